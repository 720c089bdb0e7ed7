"""Settings from the environment: defaults, clear errors naming the variable, production refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from registry.settings import Settings, SettingsError

SECRET = "ab" * 32


def test_development_generates_secrets_once_with_mode_0600(tmp_path: Path) -> None:
    first = Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path)})
    assert len(first.pepper) == 32 and first.pepper == second.pepper
    assert first.session_key == second.session_key != first.pepper
    mode = stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode)
    assert mode == 0o600


def test_defaults_follow_the_design(tmp_path: Path) -> None:
    settings = Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path)})
    assert settings.database_url is None
    assert settings.limits.no_record_permits == 1 and settings.limits.no_record_window_days == 30
    assert settings.limits.consent_permits == 7 and settings.limits.consent_window_days == 7
    assert settings.limits.contact_daily_permits == 3
    assert settings.limits.consent_default_days == 180 and settings.limits.consent_max_days == 365
    assert settings.default_region == "CN"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REGISTRY_PORT", "eighty", "REGISTRY_PORT must be a whole number"),
        ("REGISTRY_PORT", "70000", "REGISTRY_PORT must be between 1 and 65535"),
        ("REGISTRY_ENV", "staging", "REGISTRY_ENV must be"),
        ("REGISTRY_PEPPER", "not-hex", "REGISTRY_PEPPER must be hex"),
        ("REGISTRY_PEPPER", "abcd", "REGISTRY_PEPPER must be at least 32 bytes"),
        ("REGISTRY_LIMIT_CONSENT_PERMITS", "0", "REGISTRY_LIMIT_CONSENT_PERMITS must be at least 1"),
        ("REGISTRY_DEFAULT_REGION", "XX", "REGISTRY_DEFAULT_REGION"),
        ("REGISTRY_SMS_WEBHOOK_URL", "ftp://x", "REGISTRY_SMS_WEBHOOK_URL"),
        ("REGISTRY_NOTICE_HOURS", "-1", "REGISTRY_NOTICE_HOURS must be between 0"),
        ("REGISTRY_NOTICE_MIN_DAYS", "0", "REGISTRY_NOTICE_MIN_DAYS must be between 1"),
        ("REGISTRY_NOTICE_DAILY_PER_AGENCY", "lots", "REGISTRY_NOTICE_DAILY_PER_AGENCY must be a whole number"),
        ("REGISTRY_PUBLIC_URL", "registry.example.cn", "REGISTRY_PUBLIC_URL must be an http"),
        ("REGISTRY_SMS_REGIONS", "CN,XX", "REGISTRY_SMS_REGIONS: XX"),
        ("REGISTRY_SMS_WORKER", "maybe", "REGISTRY_SMS_WORKER must be 1 or 0"),
    ],
)
def test_bad_value_names_the_variable(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path), variable: value})


def test_production_refuses_without_real_secrets(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"REGISTRY_ENV": "production", "REGISTRY_DATA_DIR": str(tmp_path)})
    required = (
        "REGISTRY_PEPPER",
        "REGISTRY_SESSION_KEY",
        "REGISTRY_RECEIPT_KEY",
        "REGISTRY_SMS_WEBHOOK_URL",
        "REGISTRY_SMS_WEBHOOK_SECRET",
        "REGISTRY_PUBLIC_URL",
        "DATABASE_URL",
    )
    for name in required:
        assert name in str(error.value)
    assert not (tmp_path / "secrets.json").exists()


def test_production_with_everything_set(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "REGISTRY_ENV": "production",
            "REGISTRY_PEPPER": SECRET,
            "REGISTRY_SESSION_KEY": "cd" * 32,
            "REGISTRY_RECEIPT_KEY": "ef" * 32,
            "REGISTRY_SMS_WEBHOOK_URL": "https://sms.example/send",
            "REGISTRY_SMS_WEBHOOK_SECRET": "gateway-secret",
            "REGISTRY_PUBLIC_URL": "https://jujue.example.cn/",
            "DATABASE_URL": "postgresql://db/registry",
        }
    )
    assert settings.production and settings.secure_cookies
    assert settings.public_url == "https://jujue.example.cn"
    assert settings.pepper == bytes.fromhex(SECRET)


def test_ask_first_settings(tmp_path: Path) -> None:
    defaults = Settings.from_env({"REGISTRY_DATA_DIR": str(tmp_path)})
    assert (defaults.notice.hours, defaults.notice.min_days, defaults.notice.daily_per_agency) == (24, 30, 5000)
    assert defaults.public_url == "http://127.0.0.1:8000" and defaults.sms_regions == ("CN",) and defaults.sms_worker
    chosen = Settings.from_env(
        {
            "REGISTRY_DATA_DIR": str(tmp_path),
            "REGISTRY_NOTICE_HOURS": "0",
            "REGISTRY_NOTICE_MIN_DAYS": "14",
            "REGISTRY_NOTICE_DAILY_PER_AGENCY": "0",
            "REGISTRY_PUBLIC_URL": "https://jujue.example.cn/",
            "REGISTRY_SMS_REGIONS": "cn, hk",
            "REGISTRY_SMS_WORKER": "0",
        }
    )
    assert (chosen.notice.hours, chosen.notice.min_days, chosen.notice.daily_per_agency) == (0, 14, 0)
    assert chosen.public_url == "https://jujue.example.cn" and chosen.sms_regions == ("CN", "HK")
    assert not chosen.sms_worker


def test_production_links_are_https(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="https in production"):
        Settings.from_env({"REGISTRY_ENV": "production", "REGISTRY_PUBLIC_URL": "http://jujue.example.cn"})
