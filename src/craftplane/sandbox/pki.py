"""Certificates for the real node, made with openssl.

Two trust roots meet at the kubelet. The control plane's CA (kwokctl's) signs the clients the
API server accepts: the kubelet (``system:node:<name>`` in ``system:nodes``, so the Node
authorizer applies) and kube-proxy. A CA of the node's own signs the kubelet's serving
certificate, which the API server checks (``--kubelet-certificate-authority``), and the API
server's client certificate for the kubelet, which the kubelet checks (x509 client CA).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from craftplane.sandbox.errors import SandboxError

# Long enough that a developer's sandbox never sees one expire.
DAYS = 3650


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _openssl(*args: str, stdin: str | None = None) -> None:
    # Keys are created private, not made private afterwards.
    previous = os.umask(0o077)
    try:
        result = subprocess.run(
            ["openssl", *args], input=stdin, capture_output=True, text=True, check=False
        )
    finally:
        os.umask(previous)
    if result.returncode != 0:
        raise SandboxError(f"openssl {args[0]} failed: {result.stderr.strip()[-500:]}")


def ensure_ca(directory: Path, name: str, common_name: str) -> KeyPair:
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    if pair.cert.exists() and pair.key.exists():
        return pair
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(pair.key))
    _openssl(
        "req", "-x509", "-new", "-key", str(pair.key), "-sha256", "-days", str(DAYS),
        "-subj", f"/CN={common_name}", "-out", str(pair.cert),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )  # fmt: skip
    pair.key.chmod(0o600)
    return pair


def ensure_leaf(
    directory: Path,
    name: str,
    ca: KeyPair,
    *,
    common_name: str,
    organization: str | None = None,
    ip_sans: tuple[str, ...] = (),
    dns_sans: tuple[str, ...] = (),
    server: bool = False,
) -> KeyPair:
    """A certificate signed by ``ca``; kept when it already exists and ``ca`` signed it."""
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    if pair.cert.exists() and pair.key.exists() and _signed_by(pair.cert, ca.cert):
        return pair
    directory.mkdir(parents=True, exist_ok=True)
    subject = f"/CN={common_name}" + (f"/O={organization}" if organization else "")
    csr = directory / f"{name}.csr"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(pair.key))
    _openssl("req", "-new", "-key", str(pair.key), "-subj", subject, "-out", str(csr))
    usage = "serverAuth" if server else "clientAuth"
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    sans = [f"IP:{ip}" for ip in ip_sans] + [f"DNS:{dns}" for dns in dns_sans]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    extensions = directory / f"{name}.ext"
    extensions.write_text("\n".join(lines) + "\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-sha256", "-days", str(DAYS), "-extfile", str(extensions),
        "-out", str(pair.cert),
    )  # fmt: skip
    csr.unlink(missing_ok=True)
    extensions.unlink(missing_ok=True)
    pair.key.chmod(0o600)
    return pair


def _signed_by(cert: Path, ca: Path) -> bool:
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0
