"""Staging uploads: names, content sniffing, limits, and hostile ZIP archives that must leave nothing behind."""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zipfile
from io import BytesIO
from pathlib import Path

import docx
import pytest

from core.admin.uploads import StagedUploads, UploadLimits, stage_uploads
from core.errors import BadFile

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
ELF = b"\x7fELF\x02\x01\x01" + bytes(200)
OPENAPI = b"openapi: 3.0.0\ninfo: {title: Pets, version: '1'}\npaths: {}\n"
LIMITS = UploadLimits()


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    """A real ZIP archive (Deflate) holding the given entries, duplicates allowed."""
    out = BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which some tests want
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return out.getvalue()


def docx_bytes(text: str = "Authentication") -> bytes:
    """A real Word document with one heading."""
    document = docx.Document()
    document.add_heading(text, level=1)
    out = BytesIO()
    document.save(out)
    return out.getvalue()


def patch_central(data: bytes, offset: int, fmt: str, value: int, *, local: int | None = None) -> bytes:
    """Overwrite a field of the first central-directory entry (and optionally of the first local header)."""
    patched = bytearray(data)
    entry = data.index(b"PK\x01\x02")
    struct.pack_into(fmt, patched, entry + offset, value)
    if local is not None:
        struct.pack_into(fmt, patched, local, value)
    return bytes(patched)


def listing(folder: Path) -> list[str]:
    """Everything under the folder (hidden files and empty folders too), relative and sorted."""
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


def stage(tmp_path: Path, files: list[tuple[str, bytes]], limits: UploadLimits = LIMITS) -> StagedUploads:
    """Stage into tmp_path/staging."""
    return stage_uploads(files, tmp_path / "staging", limits)


def only_refusal(result: StagedUploads) -> str:
    """The one refusal of a batch that staged nothing."""
    assert result.staged == ()
    assert len(result.refused) == 1, result.refused
    return result.refused[0].reason


# --- plain files ------------------------------------------------------------------------------------------------


def test_documents_are_staged_with_their_bytes(tmp_path: Path) -> None:
    word = docx_bytes()
    result = stage(tmp_path, [("auth.md", b"# Auth\n"), ("guide.pdf", PDF), ("manual.docx", word),
                              ("api.yaml", OPENAPI)])
    assert result.staged == ("auth.md", "guide.pdf", "manual.docx", "api.yaml")
    assert result.refused == ()
    folder = tmp_path / "staging"
    assert listing(folder) == ["api.yaml", "auth.md", "guide.pdf", "manual.docx"]  # no temp files left
    assert (folder / "manual.docx").read_bytes() == word
    assert [p.read_bytes() for p in result.paths][:2] == [b"# Auth\n", PDF]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("logo.md", PNG, "it looks like a PNG image"),
        ("setup.md", ELF, "it looks like a program"),
        ("photo.pdf", PNG, "not a real PDF"),
        ("notes.txt", b"hello\x00world", "NUL bytes"),
        ("report.md", PDF, "it looks like a PDF document"),
        ("letter.docx", b"just text", "not a real Word document"),
        ("utf16.md", "\ufeffhi".encode("utf-16"), "UTF-16"),
        ("archive.zip", b"not a zip", "not a real ZIP archive"),
        ("tool.exe", ELF, "cannot ingest .exe files"),
        ("empty.md", b"", "empty"),
    ],
)
def test_content_that_does_not_match_the_extension_is_refused(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    result = stage(tmp_path, [(name, data)])
    assert expected in only_refusal(result)
    assert result.refused[0].name == name
    assert listing(tmp_path / "staging") == []


def test_word_document_with_another_extension_is_refused(tmp_path: Path) -> None:
    result = stage(tmp_path, [("manual.md", docx_bytes())])
    assert "is a Word document" in only_refusal(result) and "rename it .docx" in result.refused[0].reason
    assert listing(tmp_path / "staging") == []


def test_duplicate_names_are_refused_and_the_first_kept(tmp_path: Path) -> None:
    result = stage(tmp_path, [("auth.md", b"first"), ("Auth.MD", b"second"), ("sub/auth.md", b"third")])
    assert result.staged == ("auth.md",)
    assert [r.name for r in result.refused] == ["Auth.MD", "sub/auth.md"]
    assert all("same name as a file already uploaded" in r.reason for r in result.refused)
    assert (tmp_path / "staging" / "auth.md").read_bytes() == b"first"


def test_a_name_already_in_the_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "auth.md").write_bytes(b"old")
    result = stage(tmp_path, [("auth.md", b"new")])
    assert "same name" in only_refusal(result)
    assert (tmp_path / "staging" / "auth.md").read_bytes() == b"old"


def test_names_are_sanitised_but_unicode_is_kept(tmp_path: Path) -> None:
    long_name = "あ" * 120 + ".md"  # 363 bytes of UTF-8
    result = stage(tmp_path, [
        ("C:\\Users\\kim\\認証ガイド.md", b"a"),
        ("../../etc/دليل.md", b"b"),
        ("bad\x00\x1b[31m\u202ename.md", b"c"),
        (long_name, b"d"),
    ])
    assert result.refused == ()
    assert result.staged[:3] == ("認証ガイド.md", "دليل.md", "bad[31mname.md")
    capped = result.staged[3]
    assert capped.endswith(".md") and capped.startswith("あああ") and len(capped.encode()) <= 200
    assert listing(tmp_path / "staging") == sorted(result.staged)


def test_hidden_and_nameless_single_files_are_refused(tmp_path: Path) -> None:
    result = stage(tmp_path, [(".env.md", b"SECRET=1"), ("\x01\x02", b"x")])
    assert result.staged == ()
    assert "hidden file" in result.refused[0].reason
    assert "not a usable file name" in result.refused[1].reason
    assert listing(tmp_path / "staging") == []


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    result = stage(tmp_path, [("big.md", b"x" * 2000), ("small.md", b"y")], UploadLimits(max_file_bytes=1000))
    assert result.staged == ("small.md",)
    assert "over the limit of 1.0 kB for one file" in result.refused[0].reason


def test_too_many_files_refuse_the_batch_before_writing(tmp_path: Path) -> None:
    files = [(f"{i}.md", b"x") for i in range(4)]
    with pytest.raises(BadFile, match="4 files were uploaded at once, over the limit of 3"):
        stage(tmp_path, files, UploadLimits(max_files=3))
    assert not (tmp_path / "staging").exists()
    assert len(stage(tmp_path, files[:3], UploadLimits(max_files=3)).staged) == 3


def test_too_many_bytes_refuse_the_batch_before_writing(tmp_path: Path) -> None:
    files = [("a.md", b"x" * 600), ("b.md", b"y" * 600)]
    with pytest.raises(BadFile, match="over the limit of .* for one batch"):
        stage(tmp_path, files, UploadLimits(max_total_bytes=1000))
    assert not (tmp_path / "staging").exists()


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    result = stage(tmp_path, [("auth.md", b"# Auth")])
    assert "could not be written" in only_refusal(result) and "No space left" in result.refused[0].reason
    assert listing(tmp_path / "staging") == []


# --- ZIP archives -------------------------------------------------------------------------------------------------


def test_zip_of_a_folder_tree_is_staged_with_relative_paths(tmp_path: Path) -> None:
    data = make_zip([
        ("docs/", b""),
        ("docs/en/auth.md", b"# Auth\n"),
        ("docs/ja/認証.md", "# 認証\n".encode()),
        ("docs/api.yaml", OPENAPI),
        ("docs/guide.pdf", PDF),
        ("docs/manual.docx", docx_bytes()),
        ("docs/logo.png", PNG),
        ("docs/fake.md", PNG),
        (".git/config", b"[core]"),
        ("docs/.DS_Store", b"\x00\x00"),
        ("__MACOSX/docs/._auth.md", b"\x00\x05\x16\x07"),
    ])
    result = stage(tmp_path, [("collection.ZIP", data)])
    assert set(result.staged) == {
        "docs/en/auth.md", "docs/ja/認証.md", "docs/api.yaml", "docs/guide.pdf", "docs/manual.docx"
    }
    refused = {r.name: r.reason for r in result.refused}
    assert set(refused) == {"docs/logo.png", "docs/fake.md"}  # hidden files are skipped silently
    assert "cannot ingest .png files" in refused["docs/logo.png"]
    assert "it looks like a PNG image" in refused["docs/fake.md"]
    folder = tmp_path / "staging"
    assert listing(folder) == ["docs", "docs/api.yaml", "docs/en", "docs/en/auth.md", "docs/guide.pdf", "docs/ja",
                               "docs/ja/認証.md", "docs/manual.docx"]
    assert (folder / "docs/ja/認証.md").read_text() == "# 認証\n"


def test_zip_is_recognised_by_content_not_extension(tmp_path: Path) -> None:
    result = stage(tmp_path, [("download", make_zip([("a.md", b"# A")]))])
    assert result.staged == ("a.md",)
    renamed = stage(tmp_path / "other", [("notes.md", make_zip([("a.md", b"# A")]))])
    assert "is a ZIP archive, not a real .md file" in only_refusal(renamed)


def test_excel_file_is_not_unpacked(tmp_path: Path) -> None:
    data = make_zip([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")])
    assert "Excel, PowerPoint or OpenDocument" in only_refusal(stage(tmp_path, [("book.zip", data)]))
    assert listing(tmp_path / "staging") == []


def symlink_entry() -> zipfile.ZipInfo:
    """A hand-made symbolic link entry, as `zip --symlinks` writes it."""
    info = zipfile.ZipInfo("docs/link.md")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("../evil.md", "climbs out of the archive"),
        ("docs/../../evil.md", "climbs out of the archive"),
        ("..\\evil.md", "climbs out of the archive"),
        ("/etc/passwd", "absolute path"),
        ("C:\\evil.md", "absolute path"),
        ("C:evil.md", "absolute path"),
        ("\\\\server\\share\\evil.md", "absolute path"),
        (symlink_entry(), "symbolic link"),
        ("docs/inner.zip", "contains another archive"),
    ],
    ids=["dotdot", "nested-dotdot", "backslash-dotdot", "absolute", "drive", "drive-relative", "unc", "symlink",
         "nested-zip-by-name"],
)
def test_hostile_entry_refuses_the_whole_zip(tmp_path: Path, entry: str | zipfile.ZipInfo, expected: str) -> None:
    payload = b"/etc/passwd" if isinstance(entry, zipfile.ZipInfo) else b"# evil"
    data = make_zip([("docs/ok.md", b"# fine"), (entry, payload), ("docs/after.md", b"# fine")])
    result = stage(tmp_path, [("upload.zip", data)])
    reason = only_refusal(result)
    assert expected in reason and "upload.zip" in reason
    assert listing(tmp_path / "staging") == []
    assert not (tmp_path / "evil.md").exists()


def test_nested_zip_disguised_as_a_document_refuses_the_whole_zip(tmp_path: Path) -> None:
    inner = make_zip([("secret.md", b"# inner")])
    data = make_zip([("docs/ok.md", b"# fine"), ("docs/inner.md", inner)])
    assert "contains another archive (docs/inner.md)" in only_refusal(stage(tmp_path, [("upload.zip", data)]))
    assert listing(tmp_path / "staging") == []


def test_docx_inside_a_zip_is_a_document_not_a_nested_zip(tmp_path: Path) -> None:
    data = make_zip([("manual.docx", docx_bytes())])
    assert stage(tmp_path, [("upload.zip", data)]).staged == ("manual.docx",)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([("a.md", b"1"), ("a.md", b"2")], "contains a.md twice"),
        ([("docs/A.md", b"1"), ("docs/a.md", b"2")], "two files named docs/a.md"),
        ([("docs/a.md", b"1"), ("docs/a.md/b.md", b"2")], "both as a file and as a folder"),
    ],
    ids=["exact", "letter-case", "file-and-folder"],
)
def test_duplicate_names_refuse_the_whole_zip(tmp_path: Path, entries: list[tuple[str, bytes]], expected: str) -> None:
    result = stage(tmp_path, [("upload.zip", make_zip([("ok.md", b"# fine"), *entries]))])
    assert expected in only_refusal(result)
    assert listing(tmp_path / "staging") == []


def test_zip_member_clashing_with_an_earlier_upload_refuses_the_zip(tmp_path: Path) -> None:
    result = stage(tmp_path, [("docs/auth.md", b"# single"), ("up.zip", make_zip([("auth.md", b"# z"),
                                                                                  ("b.md", b"# b")]))])
    assert result.staged == ("auth.md",)
    assert "same name as a file already uploaded" in result.refused[0].reason
    assert listing(tmp_path / "staging") == ["auth.md"]
    assert (tmp_path / "staging" / "auth.md").read_bytes() == b"# single"


def test_encrypted_member_refuses_the_whole_zip(tmp_path: Path) -> None:
    data = patch_central(make_zip([("secret.md", b"# x" * 50), ("ok.md", b"# fine")]), 8, "<H", 0x1)
    assert "protected by a password" in only_refusal(stage(tmp_path, [("upload.zip", data)]))
    assert listing(tmp_path / "staging") == []


def test_too_many_members_refuse_the_zip(tmp_path: Path) -> None:
    data = make_zip([(f"{i}.md", b"# x") for i in range(4)])
    reason = only_refusal(stage(tmp_path, [("upload.zip", data)], UploadLimits(max_zip_members=3)))
    assert "holds 4 entries, over the limit of 3" in reason
    assert listing(tmp_path / "staging") == []


def bomb(size: int) -> bytes:
    """A ZIP whose one member is `size` bytes of zeros, written in chunks so memory stays small."""
    out = BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("ok.md", b"# fine")
        with archive.open("docs/zeros.txt", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                member.write(chunk)
    return out.getvalue()


def test_decompression_bomb_is_refused_from_its_headers(tmp_path: Path) -> None:
    data = bomb(200 << 20)
    assert len(data) < 2_000_000
    reason = only_refusal(stage(tmp_path, [("bomb.zip", data)]))
    assert "decompression bomb" in reason and "docs/zeros.txt" in reason
    assert listing(tmp_path / "staging") == []


def test_archive_over_the_unpacked_limit_is_refused(tmp_path: Path) -> None:
    limits = UploadLimits(max_zip_total_bytes=3_000_000, max_compression_ratio=10_000)
    reason = only_refusal(stage(tmp_path, [("big.zip", bomb(4 << 20))], limits))
    assert "over the limit of 3.0 MB" in reason
    assert listing(tmp_path / "staging") == []


def test_archives_share_one_unpacked_budget(tmp_path: Path) -> None:
    first = make_zip([("a.md", b"a" * 600)])
    second = make_zip([("b.md", b"b" * 600)])
    result = stage(tmp_path, [("one.zip", first), ("two.zip", second)], UploadLimits(max_zip_total_bytes=1000))
    assert result.staged == ("a.md",)
    assert "together with the archives before it" in result.refused[0].reason
    assert listing(tmp_path / "staging") == ["a.md"]


def test_headers_that_lie_about_the_size_refuse_the_zip(tmp_path: Path) -> None:
    data = make_zip([("docs/big.md", b"lorem ipsum " * 200_000), ("ok.md", b"# fine")])
    # Claim 100 bytes in the central directory (offset 24) and the local header (offset 22 of the first entry).
    lying = patch_central(data, 24, "<I", 100, local=22)
    reason = only_refusal(stage(tmp_path, [("liar.zip", lying)]))
    assert "cannot be unpacked" in reason and "docs/big.md" in reason
    assert listing(tmp_path / "staging") == []


def test_small_repetitive_files_are_not_mistaken_for_bombs(tmp_path: Path) -> None:
    data = make_zip([("table.md", b"| a | b |\n" * 5000)])  # ratio far above 100, but only 50 KB
    assert stage(tmp_path, [("ok.zip", data)]).staged == ("table.md",)


def test_damaged_and_empty_zips_are_refused(tmp_path: Path) -> None:
    good = make_zip([("a.md", b"# A" * 1000)])
    result = stage(tmp_path, [("cut.zip", good[: len(good) // 2]), ("empty.zip", make_zip([]))])
    assert "damaged ZIP archive" in result.refused[0].reason
    assert "empty ZIP archive" in result.refused[1].reason
    assert listing(tmp_path / "staging") == []


def test_a_failed_move_removes_what_the_zip_already_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace
    calls: list[str] = []

    def replace_then_fail(src: str, dst: str) -> None:
        calls.append(str(dst))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_fail)
    data = make_zip([("docs/en/a.md", b"# A"), ("docs/ja/b.md", b"# B"), ("c.md", b"# C")])
    result = stage(tmp_path, [("upload.zip", data)])
    assert len(calls) == 2  # the first member was moved into place before the failure
    assert "could not be written" in only_refusal(result)
    assert listing(tmp_path / "staging") == []
