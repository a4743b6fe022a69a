"""`c4forge parity` on the shared real-web WET: TFDS's own functions, c4forge and the
published TFDS output agree document for document."""

from __future__ import annotations

import pytest

from c4forge import cli

from conftest import BADWORDS_DIR, REALWEB_COUNTERS, REALWEB_EXPECTED, REALWEB_WET, require_shared

pytestmark = pytest.mark.slow


def test_parity_on_realweb_is_identical(capsys):
    require_shared()
    rc = cli.main(["parity", "--input", str(REALWEB_WET), "--badwords-dir", str(BADWORDS_DIR),
                   "--expected", str(REALWEB_EXPECTED), "--expected-counters", str(REALWEB_COUNTERS)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "documents: TFDS reference 252, c4forge 252" in out
    assert out.count("== ") == 3 and "DIFFERENT" not in out
    assert "only in reference 0, only in candidate 0, same url with differing fields 0" in out


def test_parity_refuses_other_profiles(capsys):
    require_shared()
    rc = cli.main(["parity", "--input", str(REALWEB_WET), "--badwords-dir", str(BADWORDS_DIR), "--noclean"])
    assert rc == 2
    assert "default profile" in capsys.readouterr().err
