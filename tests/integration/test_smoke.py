from tests.conftest import login


def test_login_and_read_patient_over_api(app, client, users):
    from tests import factories

    c = factories.campaign(agents=[users.agent])
    p = factories.patient()
    factories.task(c, p)
    response = client.get(f"/api/v1/patients/{p.id}", headers=users.headers("agent"))
    assert response.status_code == 200, response.json
    assert response.json["card_number"] == p.card_number
    assert login(client, "supervisor").status_code == 302
    assert "王小明" in client.get(f"/patients/{p.id}").get_data(as_text=True)


def test_patient_data_is_escaped_in_pages(app, client, users):
    from tests import factories

    p = factories.patient("<script>alert(1)</script>")
    login(client, "supervisor")
    page = client.get(f"/patients/{p.id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
