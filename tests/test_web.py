"""Template helpers shared by every page."""


def test_time_and_number_formats():
    import datetime as dt

    from sigrekap.web import format_decimal, format_duration, format_percent, format_wib

    assert format_wib(dt.datetime(2026, 11, 30, 20, 15)) == "01-12-2026 03:15 WIB"
    assert format_duration(dt.timedelta(seconds=29)) == "29 detik"
    assert format_duration(dt.timedelta(hours=3, minutes=5)) == "3 jam 5 menit"
    assert format_duration(dt.timedelta(days=2)) == "2 hari"
    assert format_decimal(1234.56) == "1.234,6"
    assert format_percent(1, 3) == "33,3%"
    assert format_percent(0, 0) == "0,0%"
