"""A TLS and an mTLS endpoint in front of a Temporal server, for tests: certificates and nginx.

:func:`make_pki` makes a throwaway CA, a server certificate for ``localhost`` / ``127.0.0.1`` and a
client certificate (``cryptography``); :func:`grpc_proxy` runs Debian's nginx in the foreground
with two listeners that terminate TLS and pass gRPC on to the server (``grpc_pass``): one that
asks for nothing more, one that requires a client certificate signed by the CA (mTLS).

What matters for Temporal behind nginx 1.22 (found the hard way): ``listen … ssl http2`` (the
pre-1.25 spelling), read and send timeouts well above the server's ~60 s long polls, no body size
limit, and gRPC-shaped error pages so that an unavailable upstream or a missing client certificate
reaches the client as ``UNAVAILABLE`` / ``UNAUTHENTICATED`` rather than as an HTML page it cannot
decode.
"""

import contextlib
import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from testing.servers import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass(frozen=True)
class PKI:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class Proxy:
    """The two endpoints, as ``host:port``."""

    tls: str
    mtls: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    # PKCS#8 PEM: what both nginx and the SDK's rustls read.
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def make_pki(folder: Path) -> PKI:
    """A CA, a server certificate (``localhost``, ``127.0.0.1``) and a client certificate, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("carm-returns test CA"))
        .issuer_name(_name("carm-returns test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        name: str, usage: x509.ObjectIdentifier, names: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server, server_key = leaf(
        "localhost",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client, client_key = leaf("carm-returns test client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    pki = PKI(
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server-key.pem",
        folder / "client.pem",
        folder / "client-key.pem",
    )
    pki.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    pki.client_cert.write_bytes(client.public_bytes(serialization.Encoding.PEM))
    _write_key(pki.server_key, server_key)
    _write_key(pki.client_key, client_key)
    return pki


_SERVER = """
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate     {pki.server_cert};
        ssl_certificate_key {pki.server_key};
        ssl_protocols TLSv1.2 TLSv1.3;
{client_check}
        grpc_read_timeout 300s;
        grpc_send_timeout 300s;
        client_body_timeout 300s;
        keepalive_timeout 600s;
        client_max_body_size 0;
        large_client_header_buffers 8 64k;
        location / {{ grpc_pass grpc://temporal; }}
        error_page 502 503 504 = @unavailable;
        error_page 495 496 = @unauthenticated;
        location @unavailable {{
            default_type application/grpc;
            add_header grpc-status 14 always;
            add_header grpc-message "nginx: upstream unavailable" always;
            return 200 "";
        }}
        location @unauthenticated {{
            default_type application/grpc;
            add_header grpc-status 16 always;
            add_header grpc-message "nginx: client certificate required" always;
            return 200 "";
        }}
    }}
"""

_CONF = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream temporal {{
        server {upstream};
        keepalive 16;
    }}
{servers}
}}
"""


def _wait_listening(port: int, process: subprocess.Popen[bytes], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on {port} within {within}s")


@contextlib.contextmanager
def grpc_proxy(upstream: str, pki: PKI) -> Iterator[Proxy]:
    """nginx in front of ``upstream`` (``host:port``): a TLS endpoint and an mTLS one."""
    prefix = Path(tempfile.mkdtemp(prefix="carm-nginx-"))
    tls_port, mtls_port = free_port(), free_port()
    client_check = f"        ssl_client_certificate {pki.ca_cert};\n        ssl_verify_client on;"
    servers = _SERVER.format(port=tls_port, pki=pki, client_check="") + _SERVER.format(
        port=mtls_port, pki=pki, client_check=client_check
    )
    (prefix / "nginx.conf").write_text(_CONF.format(prefix=prefix, upstream=upstream, servers=servers))
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    subprocess.run([*command, "-t", "-q"], check=True)
    process = subprocess.Popen(command, start_new_session=True)
    try:
        _wait_listening(tls_port, process)
        _wait_listening(mtls_port, process)
        yield Proxy(tls=f"127.0.0.1:{tls_port}", mtls=f"127.0.0.1:{mtls_port}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(prefix, ignore_errors=True)
