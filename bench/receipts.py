"""What signing receipts costs: per check and per batch, beside the same answer unsigned.

    .venv/bin/python bench/receipts.py                 # 20,000 single answers, batches of 1,000 and 10,000
    .venv/bin/python bench/receipts.py --singles 5000

In one process, no database: the work the service does after the check statement answered,
with and without the receipt. A single answer: build CheckResult and encode it to JSON (what
the route and Litestar do), beside the same plus the claims and one Ed25519 signature; the
signature through joserfc is shown too, for the choice of signing with `cryptography`
directly. A batch: build the results and encode the answer, beside the same plus the SHA-256
of the answer lines and one signature. Prints the machine, per-item microseconds, and the
added cost as a share of the unsigned work.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat  # noqa: E402
from joserfc import jws  # noqa: E402
from joserfc.jwk import OKPKey  # noqa: E402
from machine import describe  # noqa: E402  (bench/machine.py, beside this script)

from registry import receipts  # noqa: E402
from registry.checks.schemas import BatchCheckResult, BatchResponse, CheckAnswer, CheckResult  # noqa: E402
from registry.domain import Limit  # noqa: E402
from registry.signing import Signer  # noqa: E402

SEED = bytes.fromhex("7c" * 32)
AGENCY = uuid.uuid4()


def fields(i: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return dict(
        check_id=uuid.uuid4(),
        phone=f"+86138{i:08d}",
        decision="allow",
        reason="no_record",
        checked_at=now,
        valid_until=now + timedelta(hours=24),
        limit=Limit(permits=1, window_days=30, used=1),
    )


def best_of(runs: int, work: Callable[[], None]) -> float:
    """The median of `runs` timings of `work`, in seconds."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--singles", type=int, default=20_000)
    parser.add_argument("--batch-sizes", default="1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    signer = Signer(SEED)
    encoder = msgspec.json.Encoder()
    answers = [fields(i) for i in range(args.singles)]

    def unsigned_singles() -> None:
        for f in answers:
            encoder.encode(CheckAnswer(**f))

    def signed_singles() -> None:
        for f in answers:
            claims = receipts.check_claims(
                check_id=f["check_id"],
                agency_id=AGENCY,
                phone=f["phone"],
                decision=f["decision"],
                reason=f["reason"],
                checked_at=f["checked_at"],
                valid_until=f["valid_until"],
                sandbox=False,
            )
            encoder.encode(CheckResult(**f, receipt=signer.sign(claims)))

    pem = signer._private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    jose_key = OKPKey.import_key(pem)
    header = {"alg": "Ed25519", "kid": signer.kid}
    sample = answers[: max(1, args.singles // 10)]

    def joserfc_signatures() -> None:
        for f in sample:
            body = json.dumps({"agency_id": AGENCY, **f}, sort_keys=True, default=str).encode()
            jws.serialize_compact(header, body, jose_key, algorithms=["Ed25519"])

    def only_signatures() -> None:
        for f in sample:
            signer.sign({"check_id": f["check_id"], "phone": f["phone"], "checked_at": f["checked_at"]})

    print(f"machine: {describe()}")
    print(f"single answers ({args.singles:,}, median of {args.runs} runs), microseconds per answer:")
    unsigned = best_of(args.runs, unsigned_singles) / args.singles * 1e6
    signed = best_of(args.runs, signed_singles) / args.singles * 1e6
    bare = best_of(args.runs, only_signatures) / len(sample) * 1e6
    jose = best_of(args.runs, joserfc_signatures) / len(sample) * 1e6
    print(f"  unsigned: build + encode the answer           {unsigned:8.1f} us")
    print(f"  signed:   the same + claims + one signature   {signed:8.1f} us  (+{signed - unsigned:.1f} us)")
    print(f"  of which the Ed25519 JWS alone (cryptography) {bare:8.1f} us; through joserfc {jose:.1f} us")

    for size in (int(n) for n in args.batch_sizes.split(",")):
        items = [fields(i) for i in range(size)]

        def build(items: list[dict[str, Any]] = items) -> list[BatchCheckResult]:
            return [BatchCheckResult(index=i, **f) for i, f in enumerate(items)]

        def unsigned_batch() -> None:
            results = build()
            body = {"batch_id": uuid.uuid4(), "checked_at": datetime.now(UTC), "results": results}
            encoder.encode(body)

        def signed_batch() -> None:
            results = build()
            digest = receipts.results_sha256((r.check_id, r.phone, r.decision, r.reason) for r in results)
            claims = receipts.batch_claims(
                batch_id=uuid.uuid4(),
                agency_id=AGENCY,
                checked_at=datetime.now(UTC),
                count=len(results),
                digest=digest,
                sandbox=False,
            )
            answer = BatchResponse(
                batch_id=claims["batch_id"],
                checked_at=claims["checked_at"],
                results=list(results),
                receipt=signer.sign(claims),
            )
            encoder.encode(answer)

        u = best_of(args.runs, unsigned_batch)
        s = best_of(args.runs, signed_batch)
        print(
            f"batch of {size:,}: unsigned {u * 1e3:7.2f} ms, signed {s * 1e3:7.2f} ms "
            f"(+{(s - u) * 1e3:.2f} ms, +{(s - u) / size * 1e6:.2f} us per number, +{(s - u) / u * 100:.0f} %)"
        )


if __name__ == "__main__":
    main()
