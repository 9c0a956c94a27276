import pytest

from densepred.published import available_tables, load


def test_published_table_ii_rows():
    df = load("spatial-lifting", "table_ii")
    assert len(df) == 8 and set(df.model) == {"UNet", "SL-UNet"}
    assert df.attrs["caption"].startswith("TABLE II")
    row = df[(df.model == "UNet") & (df.config == "8L, 2Res")].iloc[0]
    assert (row.macs_G, row.params_M) == (20.7387, 43.2355)
    assert "table_ii" in available_tables("spatial-lifting")


def test_published_unknown_table_and_paper():
    with pytest.raises(KeyError, match="Transcribed tables: table_ii"):
        load("spatial-lifting", "table_xx")
    with pytest.raises(KeyError, match="Unknown paper slug"):
        load("spatial_lifting", "table_ii")
