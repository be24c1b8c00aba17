"""The compound's own certificate authority: the broker and every device prove who they are.

The office node makes the CA (``facegate compound init``); each device makes its own TLS key
and a certificate request (``facegate compound join``), so no private key ever leaves the
device that uses it. The CA signs the request with the device's id as the certificate's common
name, which the broker takes as the MQTT user name (``use_identity_as_username``) and the ACL
matches against. EC P-256 keys; certificates for 10 years (the compound re-issues on demand).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import ConfigError

__all__ = [
    "DEVICE_ID",
    "CompoundPkiError",
    "Issued",
    "check_device_id",
    "fingerprint",
    "new_ca",
    "new_request",
    "new_server_cert",
    "sign_request",
]

DEVICE_ID = re.compile(r"^[a-z][a-z0-9-]{0,31}$")  # a topic level and a certificate CN
VALID_DAYS = 3650


class CompoundPkiError(ConfigError):
    """A certificate, request, grant or id that is not acceptable (bad input: exit 2)."""


@dataclass(slots=True, frozen=True)
class Issued:
    """A private key (PEM, stays where it was made) and its certificate or request (PEM)."""

    key_pem: bytes
    cert_pem: bytes


def check_device_id(device: str) -> str:
    if not DEVICE_ID.match(device):
        raise CompoundPkiError(
            f"device id {device!r}: use 1-32 lower-case letters, digits and '-', "
            "starting with a letter"
        )
    return device


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, compound: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"facegate compound {compound}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return now - dt.timedelta(minutes=5), now + dt.timedelta(days=VALID_DAYS)


def new_ca(compound: str, *, now: dt.datetime | None = None) -> Issued:
    """A self-signed CA for the compound (path length 0: it signs devices only)."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"facegate compound CA {compound}", compound)
    start, end = _validity(now)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))


def new_request(device: str, compound: str) -> Issued:
    """On the device: a fresh TLS key and a certificate request naming ``device``."""
    check_device_id(device)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(device, compound))
        .sign(key, hashes.SHA256())
    )
    return Issued(_key_pem(key), csr.public_bytes(serialization.Encoding.PEM))


def _load_ca(ca: Issued) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CompoundPkiError("the compound CA key is not an EC key")
    return key, x509.load_pem_x509_certificate(ca.cert_pem)


def _issue(
    ca: Issued,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
    now: dt.datetime | None,
) -> bytes:
    ca_key, ca_cert = _load_ca(ca)
    start, end = _validity(now or dt.datetime.now(dt.UTC))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def sign_request(ca: Issued, request_pem: bytes, device: str) -> bytes:
    """On the office: the device's client certificate, if its request names ``device``.

    Raises:
        CompoundPkiError: the request is malformed, badly signed, not EC, or names another id.
    """
    check_device_id(device)
    try:
        csr = x509.load_pem_x509_csr(request_pem)
    except ValueError as exc:
        raise CompoundPkiError(f"not a certificate request: {exc}") from None
    if not csr.is_signature_valid:
        raise CompoundPkiError("the certificate request's signature does not verify")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or names[0].value != device:
        raise CompoundPkiError(f"the certificate request does not name device {device!r}")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CompoundPkiError("the certificate request's key is not an EC key")
    return _issue(ca, csr.subject, public_key, ExtendedKeyUsageOID.CLIENT_AUTH, [], None)


def new_server_cert(ca: Issued, compound: str, address: str) -> Issued:
    """The broker's key and certificate, valid for the LAN ``address`` it listens on."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName]
    try:
        sans = [x509.IPAddress(ipaddress.ip_address(address))]
    except ValueError:
        sans = [x509.DNSName(address)]
    cert = _issue(
        ca,
        _name(f"broker {address}", compound),
        key.public_key(),
        ExtendedKeyUsageOID.SERVER_AUTH,
        sans,
        None,
    )
    return Issued(_key_pem(key), cert)


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate (hex), as shown to the operator to compare by eye."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex()
