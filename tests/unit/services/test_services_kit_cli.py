"""Command-line parsing: every mistake is one sentence (the process prints it and exits 2)."""

from __future__ import annotations

import pytest

from services.kit.cli import Options, UsageError, parse_options


def test_minimal_command_line():
    assert parse_options("catalog", ["--instance", "catalog-1", "--port", "18000"]) == Options(
        service="catalog", instance="catalog-1", port=18000
    )


def test_full_registration_command_line():
    options = parse_options(
        "pricing",
        "--instance p-2 --port 18001 --host 0.0.0.0 --register http://127.0.0.1:8500/ --advertise 127.0.0.1:19001 --ttl-s 1.5".split(),
    )
    assert options.register == "http://127.0.0.1:8500"
    assert (options.host, options.advertise, options.ttl_s) == ("0.0.0.0", "127.0.0.1:19001", 1.5)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "required: --instance, --port"),
        (["--instance", "a", "--port", "http"], "port number"),
        (["--instance", "a", "--port", "70000"], "port number"),
        (["--instance", "a b", "--port", "1"], "letters, digits"),
        (["--instance", "a", "--port", "1", "--register", "http://cp:8500"], "needs --advertise"),
        (["--instance", "a", "--port", "1", "--advertise", "h:1"], "only makes sense with --register"),
        (["--instance", "a", "--port", "1", "--register", "cp:8500", "--advertise", "h:1"], "http:// URL"),
        (["--instance", "a", "--port", "1", "--register", "http://cp", "--advertise", "h"], "HOST:PORT"),
        (["--instance", "a", "--port", "1", "--ttl-s", "0"], "seconds"),
        (["--instance", "a", "--port", "1", "--db", "x.db"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_are_one_sentence(argv, needle):
    with pytest.raises(UsageError) as info:
        parse_options("catalog", argv)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_storefront_needs_outbound_and_others_accept_it():
    with pytest.raises(UsageError, match="--outbound"):
        parse_options("storefront", ["--instance", "s", "--port", "1"], outbound_required=True)
    options = parse_options("catalog", ["--instance", "c", "--port", "1", "--outbound", "http://127.0.0.1:9/"])
    assert options.outbound == "http://127.0.0.1:9"


def test_orders_needs_db_in_an_existing_folder(tmp_path):
    with pytest.raises(UsageError, match="--db"):
        parse_options("orders", ["--instance", "o", "--port", "1"], db_required=True)
    with pytest.raises(UsageError, match="does not exist"):
        parse_options(
            "orders", ["--instance", "o", "--port", "1", "--db", str(tmp_path / "no" / "o.db")], db_required=True
        )
    options = parse_options(
        "orders", ["--instance", "o", "--port", "1", "--db", str(tmp_path / "o.db")], db_required=True
    )
    assert options.db == str(tmp_path / "o.db")
