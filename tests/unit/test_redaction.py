"""Secrets never survive redaction."""

from __future__ import annotations

import pytest

from lexigram_nosql.redaction import Redactor, redact_uri, uri_secrets


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://app:s3cr3t@db:27017/x", "mongodb://app:***@db:27017/x"),
        ("mongodb+srv://app:p%40ss@cluster.example/x", "mongodb+srv://app:***@cluster.example/x"),
        ("mongodb://db:27017/x", "mongodb://db:27017/x"),
        ("mongodb://app@db:27017", "mongodb://app@db:27017"),
        ("https://h/?password=hunter22&x=1", "https://h/?password=***&x=1"),
        ("http://h/?token=abc123", "http://h/?token=***"),
    ],
)
def test_redact_uri_hides_passwords(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_redactor_scrubs_known_secrets_and_uri_passwords() -> None:
    redactor = Redactor(["AKIASECRETKEY", "wJalrXUtnFEMI/K7MDENG"])
    text = "key AKIASECRETKEY secret wJalrXUtnFEMI/K7MDENG at mongodb://u:pw1234@h"
    scrubbed = redactor.scrub(text)
    assert "AKIASECRETKEY" not in scrubbed
    assert "wJalrXUtnFEMI" not in scrubbed
    assert "pw1234" not in scrubbed
    assert scrubbed.count("***") == 3


def test_redactor_replaces_the_longest_secret_first() -> None:
    scrubbed = Redactor(["abc", "abcdef"]).scrub("x abcdef y")
    assert scrubbed == "x *** y"


def test_redactor_ignores_empty_and_tiny_secrets() -> None:
    """A one-letter 'secret' would shred every message; it is not treated as one."""
    assert Redactor(["", "a"]).scrub("a cat") == "a cat"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "mongodb://h/db?authMechanism=MONGODB-AWS"
            "&authMechanismProperties=AWS_SESSION_TOKEN:tok/1+x,SERVICE_NAME:svc",
            "mongodb://h/db?authMechanism=MONGODB-AWS"
            "&authMechanismProperties=AWS_SESSION_TOKEN:***,SERVICE_NAME:***",
        ),
        (
            "mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN%3Atok%2CSERVICE_NAME%3As",
            "mongodb://h/db?authMechanismProperties=AWS_SESSION_TOKEN%3A***%2CSERVICE_NAME%3A***",
        ),
        (
            "mongodb://h/db?tlsCertificateKeyFilePassword=pw9&apiKey=k1&sessionToken=t1&w=1",
            "mongodb://h/db?tlsCertificateKeyFilePassword=***&apiKey=***&sessionToken=***&w=1",
        ),
        ("mongodb://h/db?replicaSet=rs0&w=majority", "mongodb://h/db?replicaSet=rs0&w=majority"),
    ],
)
def test_redact_uri_hides_secret_query_parameters(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_uri_secrets_lists_raw_and_decoded_values() -> None:
    query = "authMechanismProperties=AWS_SESSION_TOKEN%3Atok%2FX&appSecret=a%40b&w=1"
    assert uri_secrets(query) == ["tok%2FX", "tok/X", "a%40b", "a@b"]
