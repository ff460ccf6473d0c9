"""Java interop harness: prove that keystores work for a real JVM.

Pico instances are Java processes that read ONE keystore for both their own key (the entry named by
``pico.rcp.tls.keystore.alias``) and the certificates they trust (there is no truststore property).
``harness/pico_harness/java/TlsProbe.java`` mirrors that with the plain JDK:

* ``server`` mode presents the key entry named by the alias (a key manager that always picks it),
  trusts what the JDK's PKIX trust manager trusts from the same keystore, optionally requires client
  certificates, and prints ``ACCEPT <subject|NONE>`` / ``REJECT <exception>`` per connection;
* ``client`` mode handshakes with its own keystore and prints ``OK <subject> <sha256>`` or
  ``FAIL <exception>``; it reads one byte so a TLS 1.3 post-handshake rejection counts as FAIL;
* ``clients`` mode runs many client handshakes in one JVM (a JVM start costs ~0.3-0.5 s), against
  any number of servers (``tls_handshake_batch``);
* ``servers`` mode hosts several servers in one JVM (``start_servers``, the default there);
* ``inspect`` mode reports what ``java.security.KeyStore`` sees (``inspect_stores``: entry types,
  fingerprints, chain lengths, key recovery with the key password);
* ``props`` mode reads pico ``.properties`` files with ``java.util.Properties``
  (``pico_configs``), so a test can run a server or client with exactly what a pod mounts.

Store types are strict in the probe (``keystore.type.compat=false``): a PKCS12 file declared as
JKS fails to load, so the declared format is tested too.

Use from pytest (session fixture ``java_probe`` in ``pico_harness.java.fixtures``; tests/java
gets it through its conftest.py, other folders import it:
``from pico_harness.java.fixtures import java_probe``)::

    with TlsServer(java_probe, server_store, "PKCS12", "pw", "pw", "platform", True) as server:
        result = tls_handshake(server, client_store, "PKCS12", "pw", "kpw", alias="ec-1")
        assert result.ok, result.detail
        assert server.events[-1].accepted

``keytool_list`` parses ``keytool -list -v`` (entry types ``PrivateKeyEntry`` and
``trustedCertEntry``, owners and SHA-256 fingerprints). Compiled classes go to a temporary
directory, never into the repository. Set ``PICO_TLS_JAVA_DEBUG=1`` to print the probes' stderr.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pico_harness.proc import CLOSE_STDIN, ManagedProcess

PROBE_SOURCE = Path(__file__).resolve().parent / "TlsProbe.java"
PROBE_CLASS = "TlsProbe"
JVM_OPTIONS: tuple[str, ...] = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-Duser.language=en",
    "-Duser.country=US",
)
STARTUP_TIMEOUT = 30.0
CLIENT_TIMEOUT = 60.0

_compiled: dict[str, Path] = {}
_compile_lock = threading.Lock()


class JavaToolError(RuntimeError):
    """A JDK tool failed (javac, keytool or the probe itself)."""


def java_available() -> bool:
    """True when ``java``, ``javac`` and ``keytool`` are all on PATH."""
    return all(shutil.which(tool) for tool in ("java", "javac", "keytool"))


def _source_digest() -> str:
    return hashlib.sha256(PROBE_SOURCE.read_bytes()).hexdigest()[:16]


def compile_probe(tmpdir: Path) -> Path:
    """Compile TlsProbe.java below ``tmpdir`` and return the class directory (the classpath).

    Compiled once per process and source version; later calls return the cached directory.
    """
    digest = _source_digest()
    with _compile_lock:
        cached = _compiled.get(digest)
        if cached is not None and (cached / f"{PROBE_CLASS}.class").is_file():
            return cached
        out = Path(tmpdir) / f"tlsprobe-{digest}"
        out.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            ["javac", "-nowarn", "-d", str(out), str(PROBE_SOURCE)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise JavaToolError(f"javac failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        _compiled[digest] = out
        return out


def _java_cmd(classpath: Path, *args: str, trust: str = "jdk") -> list[str]:
    return [
        "java",
        *JVM_OPTIONS,
        f"-Dprobe.trust={trust}",
        "-cp",
        str(classpath),
        PROBE_CLASS,
        *args,
    ]


def _debug(text: str) -> None:
    if os.environ.get("PICO_TLS_JAVA_DEBUG") == "1" and text.strip():
        print(text)


# --------------------------------------------------------------------------- keytool


@dataclass(frozen=True)
class KeytoolEntry:
    """One ``keytool -list -v`` entry; ``fingerprints``/``owners`` per certificate, leaf first."""

    alias: str
    entry_type: str  # "PrivateKeyEntry" | "trustedCertEntry" | "SecretKeyEntry"
    fingerprints: tuple[str, ...] = ()  # SHA-256, "AB:CD:..."
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeytoolListing:
    store_type: str
    entries: tuple[KeytoolEntry, ...]

    def by_alias(self) -> dict[str, KeytoolEntry]:
        return {e.alias: e for e in self.entries}


def keytool(*args: str, timeout: float = 60.0) -> str:
    """Run keytool in English; return stdout, raise JavaToolError on a non-zero exit."""
    cmd = [
        "keytool",
        "-J-Duser.language=en",
        "-J-Duser.country=US",
        "-J-XX:TieredStopAtLevel=1",
        "-J-XX:+UseSerialGC",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        what = args[0] if args else ""
        output = f"{proc.stdout.strip()} {proc.stderr.strip()}"
        raise JavaToolError(f"keytool {what} failed ({proc.returncode}): {output}")
    return proc.stdout


def keytool_listing(path: Path | str, store_password: str, store_type: str) -> KeytoolListing:
    """``keytool -list -v`` parsed: the store type Java reports and every entry."""
    out = keytool(
        "-list",
        "-v",
        "-keystore",
        str(path),
        "-storepass",
        store_password,
        "-storetype",
        store_type,
    )
    return parse_keytool_list(out)


def keytool_list(path: Path | str, store_password: str, store_type: str) -> list[KeytoolEntry]:
    """The entries Java sees in a keystore (alias, entry type, SHA-256 fingerprints, owners)."""
    return list(keytool_listing(path, store_password, store_type).entries)


def parse_keytool_list(text: str) -> KeytoolListing:
    store_type = ""
    entries: list[KeytoolEntry] = []
    alias: str | None = None
    entry_type = ""
    fingerprints: list[str] = []
    owners: list[str] = []

    def flush() -> None:
        if alias is not None:
            entries.append(KeytoolEntry(alias, entry_type, tuple(fingerprints), tuple(owners)))

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Keystore type:"):
            store_type = line.split(":", 1)[1].strip()
        elif line.startswith("Alias name:"):
            flush()
            alias = line.split(":", 1)[1].strip()
            entry_type = ""
            fingerprints = []
            owners = []
        elif line.startswith("Entry type:"):
            entry_type = line.split(":", 1)[1].strip()
        elif line.startswith("Owner:"):
            owners.append(line.split(":", 1)[1].strip())
        elif line.startswith("SHA256:"):
            fingerprints.append(line.split(":", 1)[1].strip())
    flush()
    return KeytoolListing(store_type, tuple(entries))


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class ServerEvent:
    """One server-side line: ``ACCEPT <subject|NONE>`` or ``REJECT <exception>: <message>``."""

    accepted: bool
    detail: str  # client subject ("NONE" without client auth) or the exception

    @property
    def client_subject(self) -> str | None:
        return self.detail if self.accepted and self.detail != "NONE" else None


@dataclass(frozen=True)
class HandshakeResult:
    ok: bool
    server_subject: str | None
    server_fingerprint: str | None  # SHA-256 "AB:CD:..." of the certificate the server presented
    detail: str  # the probe's line ("OK ..." / "FAIL <exception>: <message>")
    connected: bool = True
    server_event: ServerEvent | None = None  # what the server said about this connection


@dataclass(frozen=True)
class ClientStore:
    """A client keystore for ``tls_handshakes`` (alias ``None``: the JDK's own key choice)."""

    path: Path
    store_type: str
    store_password: str
    key_password: str
    alias: str | None = None


def _parse_client_line(line: str, connected: bool) -> HandshakeResult:
    if line.startswith("OK "):
        subject, _, fingerprint = line[3:].rpartition(" ")
        return HandshakeResult(True, subject, fingerprint, line, connected)
    return HandshakeResult(False, None, None, line or "FAIL no output from probe", connected)


def _check_field(value: str, what: str) -> str:
    if any(c in value for c in "\t\n\r"):
        raise ValueError(f"{what} must not contain tabs or line breaks")
    return value


def _probe_process(cmd: list[str]) -> ManagedProcess:
    """A TlsProbe JVM on pipes; it ends when its stdin closes (SIGKILL 5 s later)."""
    return ManagedProcess(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stop_by=CLOSE_STDIN,
        grace=5,
        kill_wait=5,
    )


@dataclass
class TlsServer:
    """TlsProbe server in a subprocess; a context manager. ``events`` fills as connections end."""

    classpath: Path
    keystore: Path | str
    store_type: str
    store_password: str
    key_password: str
    alias: str
    require_client_auth: bool = True
    trust: str = "jdk"  # "entries": trust only trustedCertEntry entries
    host: str = "127.0.0.1"
    port: int = 0
    events: list[ServerEvent] = field(default_factory=list, init=False)
    _proc: ManagedProcess | None = field(default=None, init=False, repr=False)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue, init=False, repr=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _stderr: list[str] = field(default_factory=list, init=False, repr=False)

    def __enter__(self) -> TlsServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.launch()
        self.await_port()

    def launch(self) -> None:
        """Start the JVM without waiting for it (see ``start_servers``)."""
        cmd = _java_cmd(
            self.classpath,
            "server",
            str(self.keystore),
            self.store_type,
            self.store_password,
            self.key_password,
            self.alias,
            "true" if self.require_client_auth else "false",
            "0",
            trust=self.trust,
        )
        self._proc = _probe_process(cmd).start()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def await_port(self) -> None:
        """Wait for the "PORT n" line; JavaToolError (and the JVM stopped) on a start failure."""
        try:
            first = self._lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            self.stop()
            raise JavaToolError("TlsProbe server did not report a port in time") from None
        if first is None or not first.startswith("PORT "):
            self.stop()
            raise JavaToolError(f"TlsProbe server failed to start: {first} {self.stderr}")
        self.port = int(first.split()[1])

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        started = False
        for raw in self._proc.stdout:
            line = raw.rstrip("\n")
            if not started:
                started = True
                self._lines.put(line)
                continue
            self._event_line(line)
        if not started:
            self._lines.put(None)

    def _event_line(self, line: str) -> None:
        _debug(f"[server {self.alias}@{self.port}] {line}")
        if line.startswith(("ACCEPT ", "REJECT ")):
            with self._cond:
                self.events.append(ServerEvent(line.startswith("ACCEPT"), line[7:]))
                self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            self._stderr.append(raw.rstrip("\n"))
            _debug(f"[server:err] {raw.rstrip()}")

    @property
    def stderr(self) -> str:
        return "\n".join(self._stderr)

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[ServerEvent]:
        """Wait until at least ``count`` events have been seen; return all events so far."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"server reported {len(self.events)} of {count} connections: {self.stderr}"
                    )
                self._cond.wait(left)
            return list(self.events)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
        self._proc = None


def tls_handshake(
    server: TlsServer,
    client_store: Path | str,
    store_type: str,
    store_password: str,
    key_password: str,
    alias: str | None = None,
    *,
    trust: str | None = None,
) -> HandshakeResult:
    """One client handshake in its own JVM (``client`` mode), with the server's verdict attached."""
    before = len(server.events)
    cmd = _java_cmd(
        server.classpath,
        "client",
        server.host,
        str(server.port),
        str(client_store),
        store_type,
        store_password,
        key_password,
        *([alias] if alias else []),
        trust=trust or server.trust,
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False)
    _debug(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    result = _parse_client_line(lines[-1] if lines else "", "CONNECTED" in proc.stderr)
    if result.ok != (proc.returncode == 0):
        raise JavaToolError(f"probe exit {proc.returncode} disagrees with {result.detail}")
    return _attach_event(server, result, before)


def _attach_event(server: TlsServer, result: HandshakeResult, index: int) -> HandshakeResult:
    if not result.connected:
        return result
    events = server.wait_for_events(index + 1)
    return HandshakeResult(
        result.ok,
        result.server_subject,
        result.server_fingerprint,
        result.detail,
        result.connected,
        events[index],
    )


def tls_handshakes(server: TlsServer, clients: Sequence[ClientStore]) -> list[HandshakeResult]:
    """Several client handshakes against one server in ONE JVM (``clients`` mode), in order."""
    return tls_handshake_batch([(server, c) for c in clients])


def tls_handshake_batch(
    pairs: Sequence[tuple[TlsServer, ClientStore]], *, trust: str = "jdk"
) -> list[HandshakeResult]:
    """Client handshakes against any number of servers, one after the other, in ONE JVM.

    Each result carries the event its server reported for that connection.
    """
    if not pairs:
        return []
    lines = []
    for server, c in pairs:
        fields = (
            server.host,
            str(server.port),
            str(c.path),
            c.store_type,
            c.store_password,
            c.key_password,
            c.alias or "",
        )
        lines.append("\t".join(_check_field(f, "client store field") for f in fields))
    before = {id(server): len(server.events) for server, _ in pairs}
    proc = subprocess.run(
        _java_cmd(pairs[0][0].classpath, "clients", trust=trust),
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT + 5 * len(pairs),
        check=False,
    )
    _debug(proc.stderr)
    parsed: dict[int, HandshakeResult] = {}
    for line in proc.stdout.splitlines():
        if not line.startswith("RESULT "):
            continue
        _, index, connected, rest = line.split(" ", 3)
        parsed[int(index)] = _parse_client_line(rest, connected == "1")
    if proc.returncode != 0 or len(parsed) != len(pairs):
        raise JavaToolError(f"TlsProbe clients failed ({proc.returncode}): {proc.stderr}")
    results: list[HandshakeResult] = []
    for i, (server, _) in enumerate(pairs):
        result = parsed[i]
        if result.connected:
            result = _attach_event(server, result, before[id(server)])
            before[id(server)] += 1
        results.append(result)
    return results


@contextlib.contextmanager
def start_servers(
    servers: Sequence[TlsServer], *, one_jvm: bool = True
) -> Iterator[list[TlsServer]]:
    """Start several servers; stop them all on exit.

    ``one_jvm`` (default): all of them in ONE JVM (``servers`` mode, each with its own SSLContext,
    port and accept thread): one JVM start and one TLS warm-up instead of one per server. Otherwise
    one JVM each, started in parallel. Either way each server's ``events`` fill as usual.
    """
    if not servers:
        yield []
        return
    if one_jvm:
        host = _ServerHost(servers)
        try:
            host.start()
            yield list(servers)
        finally:
            host.stop()
        return
    with contextlib.ExitStack() as stack:
        for server in servers:
            server.launch()
            stack.callback(server.stop)
        for server in servers:
            server.await_port()
        yield list(servers)


class _ServerHost:
    """One TlsProbe ``servers`` JVM hosting several TlsServer objects."""

    def __init__(self, servers: Sequence[TlsServer]) -> None:
        if len({s.classpath for s in servers}) != 1:
            raise ValueError("servers in one JVM must share a classpath")
        self.servers = list(servers)
        self._proc: ManagedProcess | None = None
        self._startup: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []

    def start(self) -> None:
        lines = []
        for s in self.servers:
            fields = (
                str(s.keystore),
                s.store_type,
                s.store_password,
                s.key_password,
                s.alias,
                "true" if s.require_client_auth else "false",
                s.trust,
            )
            lines.append("\t".join(_check_field(f, "server field") for f in fields))
        self._proc = _probe_process(_java_cmd(self.servers[0].classpath, "servers")).start()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        assert self._proc.stdin is not None
        self._proc.stdin.write("\n".join(lines) + "\nEND\n")
        self._proc.stdin.flush()
        errors: list[str] = []
        ports: dict[int, int] = {}
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                line = self._startup.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise JavaToolError("TlsProbe servers did not start in time") from None
            if line is None:
                raise JavaToolError(f"TlsProbe servers exited: {chr(10).join(self._stderr)}")
            if line == "READY":
                break
            kind, index, rest = line.split(" ", 2)
            if kind == "PORT":
                ports[int(index)] = int(rest)
            else:
                s = self.servers[int(index)]
                errors.append(f"server {index} ({s.keystore}, alias {s.alias}): {rest}")
        if errors:
            raise JavaToolError("TlsProbe server failed to start: " + "; ".join(errors))
        for i, s in enumerate(self.servers):
            s.port = ports[i]

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        ready = False
        for raw in self._proc.stdout:
            line = raw.rstrip("\n")
            if not ready:
                ready = line == "READY"
                self._startup.put(line)
            elif line.startswith("EVENT "):
                _, index, rest = line.split(" ", 2)
                self.servers[int(index)]._event_line(rest)
        if not ready:
            self._startup.put(None)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for raw in self._proc.stderr:
            self._stderr.append(raw.rstrip("\n"))
            _debug(f"[servers:err] {raw.rstrip()}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
        self._proc = None


# --------------------------------------------------------------------------- pico properties


@dataclass(frozen=True)
class PicoConfig:
    """The RCP TLS settings of a pico instance, as java.util.Properties read them."""

    keystore: Path  # ROOT / basename(pico.rcp.tls.keystore)
    store_type: str  # from the file extension
    store_password: str
    key_password: str
    alias: str | None  # pico.rcp.tls.keystore.alias
    require_client_auth: bool  # pico.rcp.tls.require_clientauth

    def server(self, classpath: Path) -> TlsServer:
        if self.alias is None:
            raise ValueError("a server needs pico.rcp.tls.keystore.alias")
        return TlsServer(
            classpath,
            self.keystore,
            self.store_type,
            self.store_password,
            self.key_password,
            self.alias,
            self.require_client_auth,
        )

    def client(self) -> ClientStore:
        return ClientStore(
            self.keystore, self.store_type, self.store_password, self.key_password, self.alias
        )


def pico_configs(
    classpath: Path, instances: Sequence[tuple[Path, Sequence[Path]]]
) -> list[PicoConfig]:
    """Resolve (mount root, [properties files]) per instance with Java's Properties, in ONE JVM.

    The keystore named by ``pico.rcp.tls.keystore`` is looked up by its file name in the root
    (where a test wrote the mounted Secret). JavaToolError when a property is missing.
    """
    if not instances:
        return []
    lines = [
        "\t".join(_check_field(str(f), "path") for f in (root, *files)) for root, files in instances
    ]
    proc = subprocess.run(
        _java_cmd(classpath, "props"),
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )
    configs: dict[int, PicoConfig] = {}
    errors: list[str] = []
    for line in proc.stdout.splitlines():
        if not line.startswith("CONFIG "):
            continue
        _, index, rest = line.split(" ", 2)
        if rest.startswith("FAIL "):
            errors.append(f"instance {index}: {rest[5:]}")
            continue
        _, path, store_type, store_pw, key_pw, alias, require = rest.split("\t")
        configs[int(index)] = PicoConfig(
            Path(path), store_type, store_pw, key_pw, alias or None, require == "true"
        )
    if errors:
        raise JavaToolError("pico properties: " + "; ".join(errors))
    if proc.returncode != 0 or len(configs) != len(instances):
        raise JavaToolError(f"TlsProbe props failed ({proc.returncode}): {proc.stderr}")
    return [configs[i] for i in range(len(instances))]


# --------------------------------------------------------------------------- inspect


@dataclass(frozen=True)
class StoreSpec:
    """A keystore as a JVM is configured to read it."""

    path: Path
    store_type: str
    store_password: str
    key_password: str


@dataclass(frozen=True)
class JavaEntry:
    alias: str
    entry_type: str  # "PrivateKeyEntry" | "trustedCertEntry" | "other"
    fingerprint: str | None  # SHA-256 of the entry's (leaf) certificate
    chain_length: int
    key_recovered: bool | None  # PrivateKeyEntry: getKey(alias, key password) worked


@dataclass(frozen=True)
class StoreInspection:
    loaded: bool
    detail: str  # "" or the load failure
    entries: tuple[JavaEntry, ...] = ()

    def by_alias(self) -> dict[str, JavaEntry]:
        return {e.alias: e for e in self.entries}


def inspect_stores(classpath: Path, stores: Sequence[StoreSpec]) -> list[StoreInspection]:
    """What java.security.KeyStore sees in each store (strict type), all in ONE JVM."""
    if not stores:
        return []
    lines = []
    for st in stores:
        fields = (str(st.path), st.store_type, st.store_password, st.key_password)
        lines.append("\t".join(_check_field(f, "store field") for f in fields))
    proc = subprocess.run(
        _java_cmd(classpath, "inspect"),
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT + len(stores),
        check=False,
    )
    loaded: dict[int, tuple[bool, str]] = {}
    entries: dict[int, list[JavaEntry]] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("STORE "):
            _, index, status, *rest = line.split(" ", 3)
            loaded[int(index)] = (status == "OK", " ".join(rest) if status != "OK" else "")
        elif line.startswith("ENTRY "):
            _, index, alias, kind, fingerprint, chain, key = line.split(" ")
            entries.setdefault(int(index), []).append(
                JavaEntry(
                    alias,
                    kind,
                    None if fingerprint == "-" else fingerprint,
                    int(chain),
                    None if key == "-" else key == "key-ok",
                )
            )
    if proc.returncode != 0 or len(loaded) != len(stores):
        raise JavaToolError(f"TlsProbe inspect failed ({proc.returncode}): {proc.stderr}")
    return [
        StoreInspection(loaded[i][0], loaded[i][1], tuple(entries.get(i, ())))
        for i in range(len(stores))
    ]


def iter_failures(results: Sequence[HandshakeResult]) -> Iterator[tuple[int, str]]:
    """(index, detail) of each failed handshake: handy for assertion messages."""
    for i, r in enumerate(results):
        if not r.ok:
            yield i, r.detail
