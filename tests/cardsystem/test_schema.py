"""The OpenAPI schema at /api/schema/: what it promises clients about money, card data and errors."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from cards.models import Cardholder
from tests.factories import CardholderFactory

pytestmark = pytest.mark.django_db

MONEY_FIELDS = {"amount", "balance", "per_transaction", "daily", "monthly"}
MANAGEMENT_PATHS = {
    "/api/v1/bins/",
    "/api/v1/bins/{bin}/",
    "/api/v1/cardholders/",
    "/api/v1/cardholders/{cardholder_id}/",
    "/api/v1/cards/",
    "/api/v1/cards/{card_id}/",
    "/api/v1/cards/{card_id}/top-ups/",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def walk(node, path=()):
    """Every (path, schema object) in the document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def properties(schema):
    """Every (component name, property name, property schema) of the components."""
    for component, body in schema["components"]["schemas"].items():
        for name, prop in body.get("properties", {}).items():
            yield component, name, prop


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_the_schema_is_openapi_3_and_describes_the_management_api(schema):
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= MANAGEMENT_PATHS


def test_the_api_authenticates_with_a_bearer_key(schema):
    assert schema["components"]["securitySchemes"]["ApiKey"] == {"type": "http", "scheme": "bearer"}
    for path, method, operation in operations(schema):
        if path.startswith("/api/v1/"):
            assert operation["security"] == [{"ApiKey": []}], (path, method)


def test_money_is_a_string_everywhere(schema):
    money = [(c, n, p) for c, n, p in properties(schema) if n in MONEY_FIELDS]

    assert {name for _, name, _ in money} == MONEY_FIELDS
    for component, name, prop in money:
        assert prop["type"] == "string", (component, name)


def test_no_number_type_appears_anywhere(schema):
    numbers = [path for path, node in walk(schema) if node.get("type") == "number"]

    assert numbers == []


def test_amount_inputs_admit_only_positive_plain_decimals(schema):
    pattern = schema["components"]["schemas"]["TopUpRequest"]["properties"]["amount"]["pattern"]

    for good in ["12.50", "1200", "0.05", "1", "100.0"]:
        assert re.fullmatch(pattern.strip("^$"), good), good
    for bad in ["", "-", "-5.00", "0", "0.00", "1e3", "12,50", ".5", "5.", "+1", " 1"]:
        assert not re.fullmatch(pattern.strip("^$"), bad), bad


def test_the_card_number_appears_only_in_the_issuing_response(schema):
    with_pan = {component for component, name, _ in properties(schema) if name in {"pan", "cvv"}}
    # The authorization request carries a CVV in: an input, never an output.
    assert with_pan == {"IssuedCardOutput", "AuthorizationRequest"}
    for _, _, operation in operations(schema):
        assert "AuthorizationRequest" not in str(operation["responses"])

    referencing = [
        (path, method, code)
        for path, method, operation in operations(schema)
        for code, response in operation["responses"].items()
        if "IssuedCardOutput" in str(response)
    ]
    # Issuing, and issuing a replacement.
    assert referencing == [
        ("/api/v1/cards/", "post", "201"),
        ("/api/v1/cards/{card_id}/replace/", "post", "201"),
    ]
    for _, _, operation in operations(schema):
        assert "IssuedCardOutput" not in str(operation.get("requestBody", ""))


def test_every_operation_documents_its_errors(schema):
    for path, method, operation in operations(schema):
        if path not in MANAGEMENT_PATHS:
            continue
        codes = set(operation["responses"])
        assert {"401", "403"} <= codes, (path, method)
        writes = method in {"post", "patch"}
        # Bodies can be invalid, and so can query parameters (unknown, repeated, empty).
        assert "400" in codes, (path, method)
        if "{" in path:
            assert "404" in codes, (path, method)
        if writes:
            assert {"409", "413", "415"} <= codes, (path, method)


def test_list_responses_are_cursor_pages(schema):
    for path in ("/api/v1/bins/", "/api/v1/cardholders/", "/api/v1/cards/"):
        get = schema["paths"][path]["get"]
        parameters = {parameter["name"] for parameter in get["parameters"]}
        assert {"cursor", "limit"} <= parameters
        page = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        assert set(schema["components"]["schemas"][page]["properties"]) == {"next", "previous", "results"}


def test_card_filters_are_documented(schema):
    parameters = {p["name"] for p in schema["paths"]["/api/v1/cards/"]["get"]["parameters"]}

    assert {"status", "bin", "cardholder", "last4", "currency"} <= parameters


def test_every_post_documents_the_idempotency_key(schema):
    for path, method, operation in operations(schema):
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        if method == "post":
            assert headers["Idempotency-Key"]["schema"]["maxLength"] == 255, path
        else:
            assert "Idempotency-Key" not in headers, (path, method)


def request_components(schema):
    """Every component a request body refers to, nested ones included."""
    components, found = schema["components"]["schemas"], set()
    pending = [
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for _, _, operation in operations(schema)
        if "requestBody" in operation
    ]
    while pending:
        name = pending.pop().split("/")[-1]
        if name not in found:
            found.add(name)
            pending += [node["$ref"] for _, node in walk(components[name]) if "$ref" in node]
    return found


def test_every_request_body_admits_only_the_fields_it_lists(schema):
    names = request_components(schema)

    assert {"CardIssueRequest", "LimitsInputRequest", "PatchedCardUpdateRequest"} <= names
    objects = [name for name in names if schema["components"]["schemas"][name].get("type") == "object"]
    assert len(objects) == 9
    for name in objects:
        assert schema["components"]["schemas"][name]["additionalProperties"] is False, name


def query_parameters(schema):
    for path, _, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                yield path, parameter["name"], parameter["schema"]


def test_no_query_parameter_admits_an_empty_value(schema):
    texts = [(path, name, s) for path, name, s in query_parameters(schema) if s["type"] == "string"]

    assert len(texts) > 10
    for path, name, parameter in texts:
        # An enum lists its values, a format rules out "", and a pattern must too.
        assert {"enum", "format", "pattern"} & set(parameter), (path, name)
        if "pattern" in parameter:
            assert not re.search(parameter["pattern"], ""), (path, name)
            assert not re.search(parameter["pattern"], "a\x00"), (path, name)


def test_query_parameters_state_the_bounds_the_filters_check(schema):
    parameters = {(path, name): s for path, name, s in query_parameters(schema)}

    assert parameters[("/api/v1/transactions/", "min_risk")] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
    }
    assert parameters[("/api/v1/transactions/", "merchant_id")]["maxLength"] == 64
    assert parameters[("/api/v1/bins/", "limit")] == {"type": "integer", "minimum": 1}
    since = parameters[("/api/v1/transactions/", "since")]
    assert since == parameters[("/api/v1/transactions/", "until")]
    assert since["format"] == "date-time" and re.search(since["pattern"], "2100-12-31T23:00:00-05:00")
    assert not re.search(since["pattern"], "1999-12-31T23:00:00Z")


def test_the_cursor_is_described_as_what_the_api_hands_out(schema, manage_api):
    CardholderFactory.create_batch(3)
    cursor = schema["paths"]["/api/v1/cardholders/"]["get"]["parameters"]
    cursor = next(p["schema"] for p in cursor if p["name"] == "cursor")

    next_link = manage_api.get("/api/v1/cardholders/?limit=1").json()["next"]
    handed_out = parse_qs(urlsplit(next_link).query)["cursor"][0]

    assert re.search(cursor["pattern"], handed_out) and len(handed_out) <= cursor["maxLength"]
    assert manage_api.get(f"/api/v1/cardholders/?{urlencode({'cursor': handed_out})}").status_code == 200
    too_long = "A" * (cursor["maxLength"] + 1)
    assert re.search(cursor["pattern"], too_long)
    assert manage_api.get(f"/api/v1/cardholders/?cursor={too_long}").json() == {
        "cursor": ["Invalid cursor: use the next or previous link of a page."]
    }


IDEMPOTENCY_KEYS = [
    "a",
    "k" * 255,
    "k" * 256,
    "inner space",
    "2f1c7a52-6b1e-4c0e-9a53-0d3f1b2a9c11",
    "~!@#$%^&*()_+",
    "",
    " ",
    " lead",
    "trail ",
    "tab\there",
    "bell\x07",
    "del\x7f",
    "cl\u00e9",
    "\u00a0nbsp",
]


@pytest.mark.parametrize("key", IDEMPOTENCY_KEYS)
def test_the_idempotency_key_schema_admits_exactly_the_keys_the_api_takes(schema, manage_api, key):
    header = schema["paths"]["/api/v1/cardholders/"]["post"]["parameters"]
    header = next(p["schema"] for p in header if p["name"] == "Idempotency-Key")
    admitted = bool(re.search(header["pattern"], key)) and 1 <= len(key) <= header["maxLength"]
    body = {"name": "Ada", "date_of_birth": "1985-06-15", "country": "GB"}

    response = manage_api.post("/api/v1/cardholders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == (201 if admitted else 400), key
    assert Cardholder.objects.exists() == admitted


@pytest.mark.parametrize(
    ("name", "accepted"), [("Ada", True), (" Ada ", True), ("   ", False), ("A\x00da", False)]
)
def test_a_text_field_pattern_admits_exactly_what_the_field_takes(schema, manage_api, name, accepted):
    pattern = schema["components"]["schemas"]["CardholderCreateRequest"]["properties"]["name"]["pattern"]
    body = {"name": name, "date_of_birth": "1985-06-15", "country": "GB"}

    response = manage_api.post("/api/v1/cardholders/", body, format="json")

    assert bool(re.search(pattern, name)) is accepted
    assert response.status_code == (201 if accepted else 400)
    assert Cardholder.objects.exists() is accepted
