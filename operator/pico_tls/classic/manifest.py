"""DIR/pico-tls.json: what the last `pico-tls keystores` run wrote (no secrets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pico_tls.classic.options import MANIFEST_FILE, ClassicError, Mode, Role
from pico_tls.keystore import Pkcs12Profile, StoreFormat


@dataclass(frozen=True)
class PartyRecord:
    role: Role
    own_key: bool
    trusted: Mapping[str, str] = field(default_factory=dict)  # reference -> alias we wrote
    files: tuple[str, ...] = ()  # the --emit files we wrote into NAME/ (names only)


@dataclass(frozen=True)
class Manifest:
    """DIR/pico-tls.json: what the last run wrote (no secrets)."""

    platform: str
    mode: Mode
    format: StoreFormat
    profile: Pkcs12Profile
    ca_fingerprint: str | None
    parties: Mapping[str, PartyRecord]
    password_encoding: str = "plain"  # --password-encoding of the run (informative)

    def to_json(self) -> dict[str, object]:
        return {
            "version": 1,
            "platform": self.platform,
            "mode": self.mode.value,
            "format": self.format.value,
            "profile": self.profile.value,
            "caFingerprint": self.ca_fingerprint,
            "passwordEncoding": self.password_encoding,
            "parties": {
                name: {
                    "role": r.role.value,
                    "ownKey": r.own_key,
                    "trusted": dict(r.trusted),
                    "files": list(r.files),
                }
                for name, r in sorted(self.parties.items())
            },
        }

    @staticmethod
    def from_json(data: object) -> Manifest:
        """ClassicError (without details of the content) when the document is not a manifest."""
        try:
            assert isinstance(data, dict) and data.get("version") == 1
            parties = data["parties"]
            assert isinstance(parties, dict)
            records: dict[str, PartyRecord] = {}
            for name, raw in parties.items():
                trusted, files = raw.get("trusted", {}), raw.get("files", [])
                assert isinstance(name, str) and isinstance(trusted, dict)
                assert all(isinstance(k, str) and isinstance(v, str) for k, v in trusted.items())
                assert isinstance(files, list) and all(isinstance(f, str) for f in files)
                role, own_key = Role(raw["role"]), bool(raw["ownKey"])
                records[name] = PartyRecord(role, own_key, trusted, tuple(files))
            ca = data.get("caFingerprint")
            assert ca is None or isinstance(ca, str)
            return Manifest(
                platform=str(data["platform"]),
                mode=Mode(data["mode"]),
                format=StoreFormat(data["format"]),
                profile=Pkcs12Profile(data["profile"]),
                ca_fingerprint=ca,
                parties=records,
                password_encoding=str(data.get("passwordEncoding", "plain")),
            )
        except (AssertionError, KeyError, ValueError, TypeError, AttributeError):
            raise ClassicError(f"{MANIFEST_FILE} is not a pico-tls manifest") from None
