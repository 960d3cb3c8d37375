"""The site's root leads people to the back office, not to a 404."""


def test_the_root_leads_to_the_back_office(db, client):
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/", follow=True).redirect_chain[-1][0].startswith("/admin/login/")
