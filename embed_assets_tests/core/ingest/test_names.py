import pytest

from embed_assets.core.ingest.names import UnsafeCollectionName, collection_name_problems, validate_collection_name


@pytest.mark.parametrize("name", ["docs", "ops-faq", "beir.scifact_v2", "A1", "x" * 128])
def test_safe_names_pass(name: str) -> None:
    assert validate_collection_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "'..'"),
        ("a..b", "'..'"),
        ("a,b", "comma"),
        ("bad\x01name", "control character"),
        ("tab\tname", "control character"),
        ("x" * 129, "129 characters"),
        ("", "empty"),
        (".hidden", "outside"),
        ("spaced name", "outside"),
    ],
)
def test_unsafe_names_are_refused_with_the_reason(name: str, fragment: str) -> None:
    assert any(fragment in p for p in collection_name_problems(name))
    with pytest.raises(UnsafeCollectionName) as err:
        validate_collection_name(name)
    assert fragment in str(err.value)
