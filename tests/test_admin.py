import pytest

from sigrekap import db
from sigrekap.models import OfficeSetting, User


def _user_count(app):
    with app.app_context():
        return db.session().query(User).count()


def test_sysadmin_creates_user(app, client, auth):
    auth.login("sysadmin")
    token = auth.csrf_token("/admin/pengguna/baru")
    response = client.post(
        "/admin/pengguna/baru",
        data={
            "csrf_token": token,
            "username": "staf2",
            "password": "kata-sandi-baru-1",
            "name": "Nur Aini",
            "role": "admin",
            "nip": "",
            "title": "Staf",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session().query(User).filter_by(username="staf2").one()
        assert user.name == "Nur Aini"
        assert user.is_active


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("nip", "12345", "NIP"),
        ("nip", "199913452010011005", "tanggal lahir"),
        ("nip", "198507222010133003", "bulan pengangkatan"),
        ("nip", "198507222010019003", "jenis kelamin"),
        ("password", "pendek", "minimal 10 karakter"),
        ("username", "A B", "Nama pengguna harus"),
        ("username", "admin", "sudah dipakai"),
        ("name", "  ", "Nama wajib diisi"),
    ],
)
def test_create_user_invalid_input_rejected(app, client, auth, field, value, message):
    auth.login("sysadmin")
    before = _user_count(app)
    data = {
        "csrf_token": auth.csrf_token("/admin/pengguna/baru"),
        "username": "kasi2",
        "password": "kata-sandi-baru-1",
        "name": "Budi",
        "role": "kasi",
        "nip": "198507222010011099",
        "title": "Plt. Kepala Seksi",
    }
    data[field] = value
    response = client.post("/admin/pengguna/baru", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _user_count(app) == before


@pytest.mark.parametrize("username", ["admin", "kasi", "kabid", "kadis"])
def test_non_sysadmin_cannot_manage_users(client, auth, username):
    auth.login(username)
    assert client.get("/admin/pengguna").status_code == 403
    token = auth.csrf_token()
    response = client.post(
        "/admin/pengguna/baru",
        data={"csrf_token": token, "username": "x123", "password": "kata-sandi-baru-1",
              "name": "X", "role": "sysadmin"},
    )
    assert response.status_code == 403


def test_sysadmin_resets_password(app, client, auth):
    auth.login("sysadmin")
    with app.app_context():
        kasi_id = db.session().query(User).filter_by(username="kasi").one().id
    token = auth.csrf_token(f"/admin/pengguna/{kasi_id}")
    response = client.post(
        f"/admin/pengguna/{kasi_id}/kata-sandi",
        data={"csrf_token": token, "password": "sandi-baru-kasi-1"},
    )
    assert response.status_code == 302
    auth.logout()
    assert auth.login("kasi", password="sandi-baru-kasi-1").status_code == 302


def test_sysadmin_cannot_deactivate_self(app, client, auth):
    auth.login("sysadmin")
    with app.app_context():
        me = db.session().query(User).filter_by(username="sysadmin").one()
    token = auth.csrf_token(f"/admin/pengguna/{me.id}")
    response = client.post(
        f"/admin/pengguna/{me.id}",
        data={"csrf_token": token, "name": me.name, "role": "sysadmin", "nip": "",
              "title": "", "is_active": ""},
    )
    assert response.status_code == 422
    with app.app_context():
        assert db.session().get(User, me.id).is_active


def test_office_settings_saved(app, client, auth):
    auth.login("sysadmin")
    token = auth.csrf_token("/admin/kantor")
    response = client.post(
        "/admin/kantor",
        data={
            "csrf_token": token,
            "name": "Diskominfo Gresik",
            "letterhead": "PEMERINTAH KABUPATEN GRESIK\nDISKOMINFO",
            "address": "Jl. Contoh 1",
            "city": "Gresik",
            "number_format": "480/{seq}/437.87/{year}",
            "open_threshold_days": "10",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        office = db.session().query(OfficeSetting).one()
        assert office.number_format == "480/{seq}/437.87/{year}"
        assert office.open_threshold_days == 10
        assert office.letterhead.splitlines()[1] == "DISKOMINFO"


@pytest.mark.parametrize(
    "number_format,message",
    [("065.1/437.87/{year}", "{seq}"), ("065.1/{seq}/{bogus}", "tidak valid")],
)
def test_office_bad_number_format_rejected(app, client, auth, number_format, message):
    auth.login("sysadmin")
    token = auth.csrf_token("/admin/kantor")
    response = client.post(
        "/admin/kantor",
        data={"csrf_token": token, "name": "X", "letterhead": "X", "city": "Gresik",
              "number_format": number_format, "open_threshold_days": "14"},
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session().query(OfficeSetting).one().number_format == "065.1/{seq}/437.87/{year}"


def test_office_logo_must_be_png(app, client, auth):
    import io

    auth.login("sysadmin")
    token = auth.csrf_token("/admin/kantor")
    response = client.post(
        "/admin/kantor",
        data={"csrf_token": token, "name": "X", "letterhead": "X", "city": "Gresik",
              "number_format": "{seq}/{year}", "open_threshold_days": "14",
              "logo": (io.BytesIO(b"GIF89a not png"), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "PNG" in response.get_data(as_text=True)


def _user_id(app, username):
    with app.app_context():
        return db.session().query(User).filter_by(username=username).one().id


def test_sysadmin_appoints_acting_official(app, client, auth):
    import datetime as dt

    from sigrekap import workflow

    auth.login("sysadmin")
    token = auth.csrf_token("/admin/penunjukan")
    today = dt.date.today().isoformat()
    response = client.post(
        "/admin/penunjukan",
        data={"csrf_token": token, "user_id": _user_id(app, "kabid"), "kind": "Plh",
              "role": "kadis", "starts_on": today, "ends_on": today},
    )
    assert response.status_code == 302
    page = client.get("/admin/penunjukan").get_data(as_text=True)
    assert "Sri Wahyuni" in page
    kabid_id = _user_id(app, "kabid")
    with app.app_context():
        kabid = db.session().get(User, kabid_id)
        assert workflow.acting_roles(db.session(), kabid) == {"kabid", "kadis"}


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"role": "admin"}, "hanya dapat ditunjuk"),
        ({"ends_on": "2020-01-01"}, "tidak boleh sebelum"),
        ({"starts_on": "kemarin"}, "tidak valid"),
        ({"role": "kabid"}, "sudah memegang"),
    ],
)
def test_invalid_appointment_rejected(app, client, auth, changes, message):
    import datetime as dt

    auth.login("sysadmin")
    today = dt.date.today().isoformat()
    data = {"csrf_token": auth.csrf_token("/admin/penunjukan"), "user_id": _user_id(app, "kabid"),
            "kind": "Plt", "role": "kadis", "starts_on": today, "ends_on": today, **changes}
    response = client.post("/admin/penunjukan", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_ending_appointment_removes_acting_role(app, client, auth):
    import datetime as dt

    from sigrekap import workflow
    from sigrekap.models import ActingAppointment

    auth.login("sysadmin")
    today = dt.date.today().isoformat()
    client.post(
        "/admin/penunjukan",
        data={"csrf_token": auth.csrf_token("/admin/penunjukan"), "user_id": _user_id(app, "kasi"),
              "kind": "Plt", "role": "kabid", "starts_on": today, "ends_on": today},
    )
    with app.app_context():
        appointment_id = db.session().query(ActingAppointment).one().id
    client.post(
        f"/admin/penunjukan/{appointment_id}/akhiri",
        data={"csrf_token": auth.csrf_token("/admin/penunjukan")},
    )
    kasi_id = _user_id(app, "kasi")
    with app.app_context():
        kasi = db.session().get(User, kasi_id)
        assert workflow.acting_roles(db.session(), kasi) == {"kasi"}
