"""gongxin-verify: check Gongxin's public record from its public API, trusting nothing but the keys.

    gongxin-verify receipt CODE     a donation's receipt: its leaf, inclusion proof, signed checkpoint
    gongxin-verify log CREDIT_CODE  a whole log: signature, root, project totals, and consistency
                                    with every checkpoint seen before (the --state file)
    gongxin-verify qr URL           an organization's QR code, offline, against the published keys
    gongxin-verify proof FILE|URL   a volunteer service proof (a saved one offline), against the keys

Hashing is RFC 6962/9162: leaf = SHA-256(0x00 || bytes), node = SHA-256(0x01 || left || right).
Checkpoints are C2SP signed notes (origin, size, base64 root) signed with Ed25519. It depends on the
standard library and ``cryptography`` only, and exits 1 naming each thing that does not match.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import os
import struct
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

Fetch = Callable[[str], bytes]  # a path such as "/api/v1/..." -> the response body


class Mismatch(Exception):
    """Something the server served does not match what it must be."""


# --- RFC 6962 hashing ------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of_hashes(hashes: Iterable[bytes]) -> bytes:
    """The Merkle tree hash of leaf hashes, a level at a time: pairs hashed, a lone last one carried up.

    (Carrying the odd node up is RFC 6962's split at the largest power of two, computed bottom-up.)
    """
    level, sha256 = list(hashes), hashlib.sha256
    if not level:
        return sha256(b"").digest()
    while len(level) > 1:
        upper = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(level[::2], level[1::2], strict=False)
        ]
        level = upper + level[-1:] if len(level) % 2 else upper
    return level[0]


def root_of(leaves: Iterable[bytes]) -> bytes:
    return root_of_hashes(leaf_hash(leaf) for leaf in leaves)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        raise Mismatch(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Mismatch("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise Mismatch(f"inclusion proof of entry {index} does not lead to the root of size {size}")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> None:
    """RFC 9162 2.1.4.2."""
    if first == second:
        if proof or first_root != second_root:
            raise Mismatch(f"two different roots for size {first}")
        return
    if not 0 < first < second or not proof:
        raise Mismatch(f"no valid consistency proof from {first} to {second}")
    path = ([first_root] if first & (first - 1) == 0 else []) + list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Mismatch("consistency proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise Mismatch(f"the tree of size {second} does not extend the tree of size {first}")


# --- signed notes (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) --------------------------------


@dataclass(frozen=True)
class Key:
    name: str
    id: bytes
    public: bytes


def parse_vkey(text: str) -> Key:
    """``<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>``."""
    name, hex_id, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64)
    if raw[:1] != b"\x01" or len(raw) != 33:
        raise Mismatch(f"not an Ed25519 note key: {text!r}")
    key = Key(name, bytes.fromhex(hex_id), raw[1:])
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4] != key.id:
        raise Mismatch(f"key id does not match key {name}")
    return key


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str


def open_checkpoint(note: str, keys: list[Key]) -> Checkpoint:
    """The checkpoint if one of ``keys`` signed it; Mismatch otherwise."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep:
        raise Mismatch("checkpoint: not a signed note")
    text += "\n"
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014":
            continue
        raw = base64.b64decode(parts[2])
        for key in keys:
            if key.name == parts[1] and key.id == raw[:4]:
                try:
                    Ed25519PublicKey.from_public_bytes(key.public).verify(raw[4:], text.encode())
                except InvalidSignature:
                    raise Mismatch("checkpoint rewritten: its signature does not verify") from None
                lines = text.splitlines()
                if len(lines) < 3 or not lines[1].isdigit():
                    raise Mismatch("checkpoint: malformed body")
                return Checkpoint(lines[0], int(lines[1]), base64.b64decode(lines[2]), note)
    raise Mismatch("checkpoint: signed by no known key")


# --- the public API --------------------------------------------------------------------------------


def http_fetch(base_url: str) -> Fetch:
    def fetch(path: str) -> bytes:
        with urllib.request.urlopen(base_url.rstrip("/") + path, timeout=30) as response:  # noqa: S310
            return bytes(response.read())

    return fetch


@dataclass
class Api:
    fetch: Fetch

    def json(self, path: str) -> Any:
        return json.loads(self.fetch(path))

    def keys(self, code: str, pinned: list[str]) -> list[Key]:
        """Pinned keys, or the log's key with every published (also retired) checkpoint key."""
        if pinned:
            return [parse_vkey(k) for k in pinned]
        texts = [self.fetch(f"/api/v1/orgs/{code}/log/key").decode()]
        texts += [k["vkey"] for k in self.json("/.well-known/gongxin-keys.json").get("log_keys", [])]
        return [parse_vkey(t) for t in dict.fromkeys(texts)]

    def checkpoint(self, code: str, keys: list[Key]) -> Checkpoint:
        return open_checkpoint(self.fetch(f"/api/v1/orgs/{code}/log/checkpoint").decode(), keys)

    def hashes(self, code: str, kind: str, query: str) -> list[bytes]:
        body = self.json(f"/api/v1/orgs/{code}/log/proof/{kind}?{query}")
        return [base64.b64decode(h) for h in body["hashes"]]

    def leaves(self, code: str, size: int) -> list[bytes]:
        """The exact bytes of leaves [0, size), from the compact pages of /log/leaves."""
        out: list[bytes] = []
        while len(out) < size:
            page = split_leaves(self.fetch(f"/api/v1/orgs/{code}/log/leaves?start={len(out)}&end={size}"))
            if not page:
                raise Mismatch(f"the log serves {len(out)} entries, its checkpoint says {size}")
            out += page
        return out[:size]


def split_leaves(body: bytes) -> list[bytes]:
    """A /log/leaves page: a count, each leaf's length (4 bytes big-endian each), the leaves' bytes."""
    count = int.from_bytes(body[:4], "big")
    if len(body) < 4 + 4 * count:
        raise Mismatch("a page of leaves is shorter than its leaves' lengths")
    lengths = struct.unpack(f">{count}I", body[4 : 4 + 4 * count])
    ends = list(itertools.accumulate(lengths, initial=4 + 4 * count))
    if ends[-1] != len(body):
        raise Mismatch("a page of leaves is not as long as its leaves' lengths say")
    return [body[a:b] for a, b in itertools.pairwise(ends)]


# --- remembered checkpoints and leaves (what a monitor keeps) -------------------------------------


@dataclass
class State:
    path: str | None
    logs: dict[str, Any] = field(default_factory=dict)  # origin -> {"checkpoint": note}

    @classmethod
    def load(cls, path: str | None) -> State:
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return cls(path, json.load(f))
        return cls(path)

    def _leaves_path(self, origin: str) -> str:
        return f"{self.path}.{hashlib.sha256(origin.encode()).hexdigest()[:16]}.leaves"

    def leaf_hashes(self, origin: str) -> list[bytes]:
        if not self.path or not os.path.exists(self._leaves_path(origin)):
            return []
        with open(self._leaves_path(origin), "rb") as f:
            raw = f.read()
        return [raw[i : i + 32] for i in range(0, len(raw), 32)]

    def remember(self, checkpoint: Checkpoint, hashes: list[bytes] | None = None) -> None:
        self.logs[checkpoint.origin] = {"checkpoint": checkpoint.note}
        if not self.path:
            return
        if hashes is not None:
            with open(self._leaves_path(checkpoint.origin), "wb") as f:
                f.write(b"".join(hashes))
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(self.logs, f, ensure_ascii=False, indent=1)


def name_change(old: list[bytes], new: list[bytes]) -> str | None:
    """What happened to the entries seen before: changed, deleted, inserted or reordered."""
    n = min(len(old), len(new))
    k = next((i for i in range(n) if old[i] != new[i]), None)
    if k is None:
        return f"entries deleted: {len(old)} were seen, {len(new)} remain" if len(new) < len(old) else None
    rest = n - k - 1
    if new[k : k + rest] == old[k + 1 : k + 1 + rest]:
        return f"entry {k} deleted (the entries after it moved up)"
    if new[k + 1 : k + 1 + rest] == old[k : k + rest]:
        return f"an entry inserted at {k} (the entries from there moved down)"
    for j in range(k + 1, n):
        swapped = old[j] == new[k] and new[j] == old[k]
        if swapped and old[k + 1 : j] == new[k + 1 : j] and old[j + 1 : n] == new[j + 1 : n]:
            return f"entries {k} and {j} reordered"
    return f"entry {k} changed"


# --- the checks ------------------------------------------------------------------------------------


def check_consistency(api: Api, code: str, seen: Checkpoint, now: Checkpoint, who: str) -> None:
    """Raise unless ``now`` extends the checkpoint ``seen`` (by this client or another: ``who``)."""
    if seen.size > now.size:
        raise Mismatch(f"fork: {who} saw size {seen.size}, the log now claims {now.size} (rolled back)")
    try:
        proof = (
            []
            if seen.size == now.size
            else api.hashes(code, "consistency", f"first={seen.size}&second={now.size}")
        )
        verify_consistency(seen.size, now.size, seen.root, now.root, proof)
    except (Mismatch, OSError, ValueError, KeyError) as exc:
        raise Mismatch(
            f"fork: the log is not an extension of the checkpoint of size {seen.size} {who} saw ({exc})"
        ) from None


def project_totals(leaves: list[dict[str, Any]]) -> dict[int, dict[str, int]]:
    """Each project's raised and spent, recomputed from its ledger leaves (corrections reverse one)."""
    by_id = {leaf["id"]: leaf for leaf in leaves if leaf.get("type") in ("donation", "expenditure")}
    totals: dict[int, dict[str, int]] = {}
    for leaf in leaves:
        kind = leaf.get("type")
        if kind not in ("donation", "expenditure", "correction"):
            continue
        t = totals.setdefault(leaf["project_id"], {"raised_fen": 0, "spent_fen": 0})
        sign, target = (1, leaf) if kind != "correction" else (-1, by_id.get(leaf["reverses"], {}))
        if target.get("type") == "donation":
            t["raised_fen"] += sign * leaf["amount_fen"]
        elif target.get("type") == "expenditure":
            t["spent_fen"] += sign * leaf["amount_fen"]
    return totals


def recompute(datas: list[bytes]) -> tuple[list[bytes], list[dict[str, Any]]]:
    """The leaf hashes of leaves' bytes, and their fields (one JSON parse for them all, not a million)."""
    sha256 = hashlib.sha256
    hashes = [sha256(b"\x00" + data).digest() for data in datas]
    leaves: list[dict[str, Any]] = json.loads(b"[" + b",".join(datas) + b"]")
    return hashes, leaves


def check_log(api: Api, code: str, *, pinned: list[str], state: State, peers: list[State]) -> list[str]:
    """The whole log against its checkpoint, the published totals, and every checkpoint seen before."""
    problems: list[str] = []
    keys = api.keys(code, pinned)
    now = api.checkpoint(code, keys)
    hashes, leaves = recompute(api.leaves(code, now.size))
    if root_of_hashes(hashes) != now.root:
        problems.append(f"root: the {now.size} entries served do not hash to the signed root")
    for who, known in [("this client", state), *((f"client {p.path}", p) for p in peers)]:
        seen_note = known.logs.get(now.origin, {}).get("checkpoint")
        if seen_note is None:
            continue
        seen = open_checkpoint(seen_note, keys)
        try:
            check_consistency(api, code, seen, now, who)
        except Mismatch as exc:
            problems.append(str(exc))
        if known is state:
            change = name_change(state.leaf_hashes(now.origin), hashes)
            if change:
                problems.append(change)
    grew = bool(api.json(f"/api/v1/orgs/{code}/log/entries?start={now.size}&end={now.size + 1}")["entries"])
    for project_id, kept in sorted(project_totals(leaves).items()):
        published = api.json(f"/api/v1/projects/{project_id}")
        for key, value in kept.items():
            if published.get(key) != value and not grew:
                problems.append(
                    f"totals: project {project_id} publishes {key} {published.get(key)}, "
                    f"its entries add up to {value}"
                )
    if not problems:
        state.remember(now, hashes)
    return problems


def check_receipt(api: Api, code: str, *, pinned: list[str], state: State) -> list[str]:
    """A receipt's leaf is this donation, and is included in a checkpoint signed by the log's key."""
    receipt = api.json(f"/api/v1/receipts/{urllib.parse.quote(code)}")
    if receipt.get("checkpoint") is None:
        return ["receipt: not yet covered by a signed checkpoint (try again in a second)"]
    origin = receipt["checkpoint"].split("\n", 1)[0]
    credit_code = origin.rsplit("/", 1)[-1]
    keys = api.keys(credit_code, pinned)
    checkpoint = open_checkpoint(receipt["checkpoint"], keys)
    data = base64.b64decode(receipt["leaf"])
    leaf, entry, problems = json.loads(data), receipt["entry"], []
    normalized = "".join(ch for ch in code.upper() if ch.isascii() and ch.isalnum())
    if leaf.get("receipt_code_sha256") != hashlib.sha256(normalized.encode()).hexdigest():
        problems.append("receipt: the leaf is not this receipt's donation")
    for name in ("id", "amount_fen", "project_id"):
        if leaf.get(name) != entry.get(name):
            problems.append(
                f"receipt: {name} is {entry.get(name)} on the receipt, {leaf.get(name)} in the log"
            )
    proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
    try:
        verify_inclusion(receipt["log_index"], checkpoint.size, leaf_hash(data), proof, checkpoint.root)
    except Mismatch as exc:
        problems.append(f"receipt: {exc}")
    seen_note = state.logs.get(checkpoint.origin, {}).get("checkpoint")
    if seen_note:
        try:
            check_consistency(api, credit_code, open_checkpoint(seen_note, keys), checkpoint, "this client")
        except Mismatch as exc:
            problems.append(str(exc))
    return problems


def check_signature(api: Api, parts: list[str], kid: str, domain: bytes, what: str) -> list[str]:
    """A token's Ed25519 signature (its last field) over ``domain`` + the other fields, by key ``kid``."""
    keys = {k["kid"]: k["public_key"] for k in api.json("/.well-known/gongxin-keys.json")["keys"]}
    if kid not in keys:
        return [f"{what}: signed with an unknown key {kid!r}"]
    public = base64.urlsafe_b64decode(keys[kid] + "=" * (-len(keys[kid]) % 4))
    signature = base64.urlsafe_b64decode(parts[-1] + "==")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, domain + ".".join(parts[:-1]).encode())
    except InvalidSignature:
        return [f"{what}: the signature does not verify (not genuine, or altered)"]
    return []


def check_qr(api: Api, url: str) -> list[str]:
    """An organization QR code's signature against /.well-known/gongxin-keys.json (offline after that)."""
    token = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1] if "/" in url else url
    parts = token.split(".")
    if len(parts) != 5 or parts[0].startswith("vp"):
        return ["qr: not a Gongxin QR token"]
    return check_signature(api, parts, parts[3], b"gongxin-qr-v1\n", "qr")


def check_proof(api: Api, subject: str) -> list[str]:
    """A volunteer service proof: the token's signature, then the content against the signed digest.

    ``subject`` is a saved proof (the JSON the API gives its volunteer: checked offline, only the keys
    are fetched) or the proof's URL (its content is then the one /api/v1/verify publishes).
    """
    doc = None
    if os.path.isfile(subject):
        with open(subject, encoding="utf-8") as f:
            doc = json.load(f)
    url = doc["url"] if doc else subject
    parts = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1].split(".")
    if len(parts) != 5 or not parts[0].startswith("vp"):
        return ["proof: not a Gongxin volunteer proof token"]
    problems = check_signature(api, parts, parts[2], b"gongxin-volunteer-proof-v1\n", "proof")
    if doc is None:
        answer = api.json("/api/v1/verify?url=" + urllib.parse.quote(url, safe=""))
        problems += [f"proof: {r['code']} ({r['message']})" for r in answer["reasons"]]
        doc = answer.get("proof") or {}
    content = doc.get("content")
    if not isinstance(content, dict):
        return [*problems, "proof: no content to check"]
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    if digest != parts[3]:
        problems.append("proof: the content (volunteer, records, hours or total) is not what was signed")
    added = sum(r.get("minutes", 0) for r in content.get("records", []))
    if added != content.get("total_minutes"):
        problems.append(
            f"proof: total_minutes {content.get('total_minutes')} but its records add up to {added}"
        )
    return problems


def main(argv: list[str] | None = None, fetch: Fetch | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gongxin-verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["receipt", "log", "qr", "proof"])
    parser.add_argument("subject", help="receipt code, credit code, QR URL, proof file or URL")
    parser.add_argument("--server", default=os.environ.get("GONGXIN_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--key", action="append", default=[], help="a pinned note verifier key")
    parser.add_argument("--state", default=os.path.expanduser("~/.gongxin-verify.json"))
    parser.add_argument("--gossip", action="append", default=[], help="another client's --state file")
    args = parser.parse_args(argv)
    api, state = Api(fetch or http_fetch(args.server)), State.load(args.state)
    started = time.monotonic()
    try:
        if args.what == "receipt":
            problems = check_receipt(api, args.subject, pinned=args.key, state=state)
        elif args.what == "log":
            peers = [State.load(p) for p in args.gossip]
            problems = check_log(api, args.subject, pinned=args.key, state=state, peers=peers)
        elif args.what == "qr":
            problems = check_qr(api, args.subject)
        else:
            problems = check_proof(api, args.subject)
    except (Mismatch, OSError, ValueError, KeyError) as exc:
        problems = [str(exc) or type(exc).__name__]
    for problem in problems:
        print(f"MISMATCH {problem}")
    if not problems:
        print(f"OK {args.what} {args.subject} ({time.monotonic() - started:.2f} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
