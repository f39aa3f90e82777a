"""Which webhook destinations are refused, in every spelling, and the allow-list."""

from __future__ import annotations

import ipaddress

import pytest

from app.core import netguard
from app.core.config import get_settings


@pytest.fixture
def nothing_allowed(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "")


REFUSED = [
    "http://127.0.0.1/h",
    "http://127.0.0.2:8080/h",
    "http://127.1/h",
    "http://127.0.1/h",
    "http://2130706433/h",
    "http://0x7f000001/h",
    "http://0X7F.0.0.1/h",
    "http://0177.0.0.1/h",
    "http://017700000001/h",
    "http://127.0.0.1./h",
    "http://127.0.0.1../h",
    "http://[::1]/h",
    "http://[0:0:0:0:0:0:0:1]/h",
    "http://[::ffff:127.0.0.1]/h",
    "http://[::ffff:7f00:1]/h",
    "http://[::ffff:a9fe:a9fe]/h",
    "http://[::127.0.0.1]/h",
    "http://[2002:7f00:1::]/h",
    "http://[64:ff9b::a00:1]/h",
    "http://[fe80::1%25eth0]/h",
    "http://localhost/h",
    "http://LOCALHOST./h",
    "http://api.localhost/h",
    "http://localhost.localdomain/h",
    "http://receptor.local/h",
    "http://10.0.0.1/h",
    "http://10.255.255.255/h",
    "http://172.16.5.4/h",
    "http://172.31.0.1/h",
    "http://192.168.1.1/h",
    "http://100.64.0.1/h",
    "http://[fc00::1]/h",
    "http://[fd12:3456::1]/h",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.1.1/h",
    "http://[fe80::1]/h",
    "http://[fd00:ec2::254]/h",
    "http://100.100.100.200/h",
    "http://168.63.129.16/h",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://metadata/h",
    "http://0.0.0.0/h",
    "http://0/h",
    "http://[::]/h",
    "http://224.0.0.1/h",
    "http://239.255.255.250/h",
    "http://[ff02::1]/h",
    "http://240.0.0.1/h",
    "http://255.255.255.255/h",
    "http://192.0.2.10/h",
    "http://198.18.0.1/h",
    "http://[2001:db8::1]/h",
    "http://１２７.０.０.１/h",
]


@pytest.mark.parametrize("url", REFUSED)
def test_internal_destinations_are_refused_in_every_spelling(nothing_allowed, url):
    reason = netguard.url_refusal(url)
    assert reason is not None
    assert "OAAA_WEBHOOK_ALLOWED_HOSTS" in reason


@pytest.mark.parametrize(
    "url",
    [
        "https://receptor.example.org/hooks/oaaa",
        "https://93.184.216.34/h",
        "https://8.8.8.8./h",
        "https://[2606:4700:4700::1111]/h",
        "http://receptor.example.org:8443/h",
    ],
)
def test_public_destinations_are_accepted(nothing_allowed, url):
    assert netguard.url_refusal(url) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.2", "10.1.0.2"),
        ("[::FFFF:127.0.0.1]", "::ffff:7f00:1"),
        ("8.8.8.8.", "8.8.8.8"),
        ("1.2.3.4.5", None),
        ("256.1.1.1", None),
        ("4294967296", None),
        ("08.1.1.1", None),
        ("receptor.example.org", None),
        ("1e3", None),
    ],
)
def test_ip_literals_are_read_as_inet_aton_reads_them(host, expected):
    parsed = netguard.parse_ip(host)
    assert parsed == (ipaddress.ip_address(expected) if expected else None)


def test_https_is_required_outside_local_and_test(nothing_allowed, monkeypatch):
    monkeypatch.setattr(get_settings(), "environment", "production")
    reason = netguard.url_refusal("http://receptor.example.org/h")
    assert reason is not None
    assert "https" in reason
    assert netguard.url_refusal("https://receptor.example.org/h") is None


def test_https_is_required_even_for_an_allowed_host(monkeypatch):
    monkeypatch.setattr(get_settings(), "environment", "staging")
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "hooks.internal")
    assert "https" in (netguard.url_refusal("http://hooks.internal/h") or "")
    assert netguard.url_refusal("https://hooks.internal/h") is None


def test_an_allowed_address_is_allowed_in_any_spelling(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", " 127.0.0.1 , [fd00::5]")
    for url in (
        "http://127.0.0.1:9000/h",
        "http://127.1/h",
        "http://0x7f000001/h",
        "http://[::ffff:127.0.0.1]/h",
        "http://[FD00::5]/h",
    ):
        assert netguard.url_refusal(url) is None, url
    assert netguard.url_refusal("http://127.0.0.2/h") is not None
    assert netguard.url_refusal("http://localhost/h") is not None


def test_an_allowed_name_is_allowed_and_no_other(monkeypatch):
    monkeypatch.setattr(get_settings(), "webhook_allowed_hosts", "Hooks.Internal.")
    assert netguard.url_refusal("http://hooks.internal/h") is None
    assert netguard.url_refusal("http://HOOKS.INTERNAL./h") is None
    assert netguard.url_refusal("http://other.internal/h") is not None
