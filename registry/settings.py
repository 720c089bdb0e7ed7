"""Settings, read once from the environment into one frozen Struct."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
import phonenumbers

from registry.jurisdiction import CHINA, JURISDICTIONS, Jurisdiction

Environment = Literal["development", "production"]
F = TypeVar("F", "Limits", "ContactLimits")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Every figure of the decision rule (docs/design.md), each one a setting."""

    no_record_permits: int = 1
    no_record_window_days: int = 30
    consent_permits: int = 7
    consent_window_days: int = 7
    contact_daily_permits: int = 3
    permit_hours: int = 24
    consent_default_days: int = 180
    consent_max_days: int = 365


class ContactLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of the contacts' flows: one-time codes, their limits, sessions, SMS retries."""

    code_minutes: int = 10
    code_max_failures: int = 5
    code_sends_per_client_hour: int = 20
    code_failures_per_client_hour: int = 30
    session_minutes: int = 30
    sms_attempts: int = 3


class NoticeFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Ask first (docs/design.md): the notice a contact gets before the first call, its hold, its budget."""

    # Checks answer notice_pending for this long after a notice; 0 keeps the notice but drops the hold.
    hours: int = 24
    # No second notice to one contact within this many days.
    min_days: int = 30
    # Notices one agency may cause in 24 hours (staff may set an agency's own); beyond, notice_budget.
    daily_per_agency: int = 5000


class Operator(msgspec.Struct, frozen=True, kw_only=True):
    """Who runs this registry and on what basis: every contact page's footer says it (issue 11).

    Empty means "not set": the footer then says plainly that this copy names no operator, rather
    than inventing one (a development copy must not pass itself off as the real service).
    """

    name: str = ""
    legal_basis: str = ""
    hotline: str = ""
    icp: str = ""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    env: Environment = "development"
    database_url: str | None = None
    # Where the service itself connects (as the least-privileged role); derived from database_url if unset.
    app_database_url: str | None = None
    # Deadlines, in seconds: waiting for a pooled connection, and any one statement.
    db_acquire_timeout: float = 2.0
    db_statement_timeout: float = 8.0
    # Where request limits are counted when not in PostgreSQL (redis://host:6379/0).
    redis_url: str | None = None
    # Deadlines for slow clients, in seconds: a request's headers must arrive within header_timeout
    # (counted from its first byte, or from the connection opening), its body within body_timeout of them.
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDRs);
    # empty: the peer of the socket is the client.
    trusted_proxies: tuple[str, ...] = ()
    data_dir: Path = Path(".registry")
    host: str = "127.0.0.1"
    port: int = 8000
    pepper: bytes = b""
    session_key: bytes = b""
    # Empty in development: registry.signing generates one into the data dir.
    receipt_key: bytes = b""
    # Public keys (the JWK `x`, base64url) of receipt keys retired by a rotation: still published, so old
    # receipts verify. Rotating: copy the current key's `x` from /.well-known/jwks.json here, then set a new key.
    receipt_retired_keys: tuple[str, ...] = ()
    # What the country decides (number region, clock, SMS words, record term, agency ids).
    jurisdiction: Jurisdiction = CHINA
    default_region: str = CHINA.default_region
    pool_min_size: int = 2
    pool_max_size: int = 10
    limits: Limits = Limits()
    contact: ContactLimits = ContactLimits()
    api_rate_limit_per_minute: int = 6000
    # Staff sign-in tries per minute, per client address and in all (each try costs an argon2 hash).
    staff_sign_ins_per_address_minute: int = 10
    staff_sign_ins_per_minute: int = 60
    sms_webhook_url: str | None = None
    sms_webhook_secret: str | None = None
    # SMS go only to mobile numbers of these regions (SMS pumping: no satellite, freephone or landline).
    sms_regions: tuple[str, ...] = ("CN",)
    # `registry serve` runs an SMS worker in each process; off when `registry worker` runs apart.
    sms_worker: bool = True
    notice: NoticeFigures = NoticeFigures()
    # Where contacts reach the pages: the notice SMS links here (`{public_url}/n/{token}`).
    public_url: str = "http://127.0.0.1:8000"
    secure_cookies: bool = False
    # How long call records (checks, permits, attempts) are kept; the jurisdiction's term unless overridden.
    record_retention_days: int = CHINA.record_retention_days
    operator: Operator = Operator()

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment; a bad value names its variable."""
        env = os.environ if environ is None else environ
        mode = env.get("REGISTRY_ENV", "development")
        if mode not in ("development", "production"):
            raise SettingsError(f"REGISTRY_ENV must be 'development' or 'production', not {mode!r}")
        data_dir = Path(env.get("REGISTRY_DATA_DIR", ".registry"))
        code = env.get("REGISTRY_JURISDICTION", CHINA.code).lower()
        if code not in JURISDICTIONS:
            raise SettingsError(
                f"REGISTRY_JURISDICTION must be one of {', '.join(sorted(JURISDICTIONS))}, not {code!r}"
            )
        jurisdiction = JURISDICTIONS[code]
        limits = _figures(env, Limits, "REGISTRY_LIMIT_")
        if limits.consent_default_days > limits.consent_max_days:
            raise SettingsError("REGISTRY_LIMIT_CONSENT_DEFAULT_DAYS must not exceed REGISTRY_LIMIT_CONSENT_MAX_DAYS")
        contact = _figures(env, ContactLimits, "REGISTRY_CONTACT_")
        webhook = env.get("REGISTRY_SMS_WEBHOOK_URL") or None
        if webhook is not None and not webhook.startswith(("https://", "http://")):
            raise SettingsError("REGISTRY_SMS_WEBHOOK_URL must be an http(s) URL")
        public_url = _public_url(env, mode)
        pepper = _secret(env, "REGISTRY_PEPPER")
        session_key = _secret(env, "REGISTRY_SESSION_KEY")
        # The Ed25519 key that signs receipts and the audit head (32-byte seed, hex).
        receipt_key = _secret(env, "REGISTRY_RECEIPT_KEY")
        if mode == "production":
            missing = [
                name
                for name, value in (
                    ("REGISTRY_PEPPER", pepper),
                    ("REGISTRY_SESSION_KEY", session_key),
                    ("REGISTRY_RECEIPT_KEY", receipt_key),
                    ("REGISTRY_SMS_WEBHOOK_URL", webhook),
                    # Outbound SMS are signed with it and inbound replies must be.
                    ("REGISTRY_SMS_WEBHOOK_SECRET", env.get("REGISTRY_SMS_WEBHOOK_SECRET")),
                    ("REGISTRY_PUBLIC_URL", public_url),
                    ("DATABASE_URL", env.get("DATABASE_URL")),
                )
                if not value
            ]
            if missing:
                raise SettingsError(f"production needs real secrets and services: set {', '.join(missing)}")
        elif not pepper or not session_key:
            generated = development_secrets(data_dir)
            pepper = pepper or generated["pepper"]
            session_key = session_key or generated["session_key"]
        pool_max = _int(env, "REGISTRY_POOL_MAX_SIZE", 10, minimum=1)
        return cls(
            env=mode,  # type: ignore[arg-type]
            database_url=env.get("DATABASE_URL") or None,
            receipt_key=receipt_key,
            receipt_retired_keys=_public_keys(env, "REGISTRY_RECEIPT_RETIRED_KEYS"),
            app_database_url=env.get("REGISTRY_APP_DATABASE_URL") or None,
            db_acquire_timeout=_seconds(env, "REGISTRY_DB_ACQUIRE_TIMEOUT", 2.0),
            db_statement_timeout=_seconds(env, "REGISTRY_DB_STATEMENT_TIMEOUT", 8.0),
            redis_url=env.get("REGISTRY_REDIS_URL") or None,
            header_timeout=_seconds(env, "REGISTRY_HEADER_TIMEOUT", 10.0),
            body_timeout=_seconds(env, "REGISTRY_BODY_TIMEOUT", 60.0),
            trusted_proxies=_networks(env, "REGISTRY_TRUSTED_PROXIES"),
            data_dir=data_dir,
            host=env.get("REGISTRY_HOST", "127.0.0.1"),
            port=_int(env, "REGISTRY_PORT", 8000, minimum=1, maximum=65535),
            pepper=pepper,
            session_key=session_key,
            jurisdiction=jurisdiction,
            default_region=_region(env, jurisdiction.default_region),
            pool_min_size=min(_int(env, "REGISTRY_POOL_MIN_SIZE", 2, minimum=0), pool_max),
            pool_max_size=pool_max,
            limits=limits,
            contact=contact,
            api_rate_limit_per_minute=_int(env, "REGISTRY_API_RATE_LIMIT_PER_MINUTE", 6000, minimum=1),
            staff_sign_ins_per_address_minute=_int(env, "REGISTRY_STAFF_SIGN_INS_PER_ADDRESS_MINUTE", 10, minimum=1),
            staff_sign_ins_per_minute=_int(env, "REGISTRY_STAFF_SIGN_INS_PER_MINUTE", 60, minimum=1),
            sms_webhook_url=webhook,
            sms_webhook_secret=env.get("REGISTRY_SMS_WEBHOOK_SECRET") or None,
            sms_regions=_regions(env, "REGISTRY_SMS_REGIONS", ("CN",)),
            sms_worker=_flag(env, "REGISTRY_SMS_WORKER", default=True),
            notice=NoticeFigures(
                hours=_int(env, "REGISTRY_NOTICE_HOURS", 24, minimum=0, maximum=24 * 30),
                min_days=_int(env, "REGISTRY_NOTICE_MIN_DAYS", 30, minimum=1, maximum=3660),
                daily_per_agency=_int(env, "REGISTRY_NOTICE_DAILY_PER_AGENCY", 5000, minimum=0),
            ),
            public_url=public_url or "http://127.0.0.1:8000",
            secure_cookies=mode == "production",
            record_retention_days=_int(
                env, "REGISTRY_RECORD_RETENTION_DAYS", jurisdiction.record_retention_days, minimum=1
            ),
            operator=Operator(
                name=_text(env, "REGISTRY_OPERATOR_NAME"),
                legal_basis=_text(env, "REGISTRY_LEGAL_BASIS"),
                hotline=_text(env, "REGISTRY_HOTLINE"),
                icp=_text(env, "REGISTRY_ICP"),
            ),
        )


def _figures(env: Mapping[str, str], figures: type[F], prefix: str) -> F:
    """A Struct of whole-number settings, each read from PREFIX + its field name in capitals."""
    defaults = figures()
    return figures(
        **{
            name: _int(env, f"{prefix}{name.upper()}", getattr(defaults, name), minimum=1)
            for name in figures.__struct_fields__
        }
    )


def _text(env: Mapping[str, str], name: str, maximum: int = 200) -> str:
    """A line of text shown on every page: stripped, one line, not longer than a footer can hold."""
    value = " ".join(env.get(name, "").split())
    if len(value) > maximum:
        raise SettingsError(f"{name} must be at most {maximum} characters")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingsError(f"{name} must be {bound}, not {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0.1 <= value <= 300:
        raise SettingsError(f"{name} must be between 0.1 and 300 seconds, not {value}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDRs (`10.0.0.5, 10.1.0.0/16`), each checked, so a typo is not trust."""
    found: list[str] = []
    for item in (part.strip() for part in env.get(name, "").split(",")):
        if not item:
            continue
        try:
            found.append(
                str(ipaddress.ip_network(item, strict=False)) if "/" in item else str(ipaddress.ip_address(item))
            )
        except ValueError:
            raise SettingsError(f"{name}: {item!r} is not an IP address or CIDR network") from None
    return tuple(found)


def _secret(env: Mapping[str, str], name: str) -> bytes:
    """A secret is hex of at least 32 bytes, so a typo cannot weaken it silently."""
    raw = env.get(name)
    if not raw:
        return b""
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        raise SettingsError(f"{name} must be hex (64 or more hex digits)") from None
    if len(value) < 32:
        raise SettingsError(f"{name} must be at least 32 bytes (64 hex digits)")
    return value


def _public_keys(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated Ed25519 public keys as JWK `x` values (base64url of 32 bytes), each checked."""
    found: list[str] = []
    for item in (part.strip() for part in env.get(name, "").split(",")):
        if not item:
            continue
        try:
            raw = base64.urlsafe_b64decode(item + "=" * (-len(item) % 4))
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise SettingsError(f"{name}: {item!r} is not an Ed25519 public key (the `x` of a key in jwks.json)")
        found.append(item)
    return tuple(found)


def _public_url(env: Mapping[str, str], mode: str) -> str:
    """REGISTRY_PUBLIC_URL without a trailing slash; "" when unset (production then refuses to start)."""
    raw = env.get("REGISTRY_PUBLIC_URL", "").strip().rstrip("/")
    if not raw:
        return "" if mode == "production" else "http://127.0.0.1:8000"
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError("REGISTRY_PUBLIC_URL must be an http(s) URL such as https://registry.example.cn")
    if mode == "production" and parts.scheme != "https":
        raise SettingsError("REGISTRY_PUBLIC_URL must be https in production: the notice SMS links there")
    return raw


def _regions(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    regions = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    unknown = [region for region in regions if region not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise SettingsError(f"{name}: {', '.join(unknown)} is not a region phonenumbers knows (e.g. CN,HK)")
    return regions


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0, not {raw!r}")


def _region(env: Mapping[str, str], default: str) -> str:
    region = env.get("REGISTRY_DEFAULT_REGION", default).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(f"REGISTRY_DEFAULT_REGION {region!r} is not a region phonenumbers knows")
    return region


def development_secrets(data_dir: Path) -> dict[str, bytes]:
    """Generated once into the data dir (mode 0600) and reused, so phone keys stay stable."""
    path = data_dir / "secrets.json"
    if path.exists():
        stored = json.loads(path.read_text())
        return {name: bytes.fromhex(value) for name, value in stored.items()}
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {"pepper": secrets.token_bytes(32), "session_key": secrets.token_bytes(32)}
    # Write to a private temp file, then link it into place: of two processes starting
    # at once, exactly one wins and the other reads the winner's secrets.
    temp = data_dir / f".secrets.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({name: value.hex() for name, value in generated.items()}, file)
    try:
        os.link(temp, path)
    except FileExistsError:
        return development_secrets(data_dir)
    finally:
        temp.unlink()
    return generated
