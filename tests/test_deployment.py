"""The production set-up as files: deploy/nginx.conf buffers in front of gunicorn and cuts
slow clients off, compose.yaml wires it to the app servers with health checks and
required secrets, gunicorn.conf.py suits sitting behind it. Read as text, so that neither
nginx nor docker is needed here; bench/slow_clients.py runs the nginx file for real."""

import json
import os
import re
import runpy
import shlex
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import yaml
from django.conf import settings
from gunicorn.config import KNOWN_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
UNITS = {"": 1, "k": 1024, "m": 1024 * 1024, "s": 1, "ms": 0.001}


def nginx_blocks(text: str) -> dict:
    """{"http": {...}, ...}: each block's directives as {name: [args, ...]} (a name used
    more than once keeps every use), its blocks under their name plus arguments."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";{}")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    stack = [{}]
    words = []
    for token in lexer:
        if token == ";":
            stack[-1].setdefault(words[0], []).append(words[1:])
            words = []
        elif token == "{":
            block = {}
            stack[-1][" ".join(words)] = block
            stack.append(block)
            words = []
        elif token == "}":
            stack.pop()
        else:
            words.append(token)
    return stack[0]


NGINX = nginx_blocks((ROOT / "deploy" / "nginx.conf").read_text())
HTTP = NGINX["http"]
SERVER = HTTP["server"]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
GUNICORN = runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def one(block: dict, name: str) -> list[str]:
    (args,) = block[name]
    return args


def size(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", value.lower()).groups()
    return int(number) * UNITS[unit]


def test_nginx_reads_each_request_and_response_whole_before_passing_it_on():
    assert one(SERVER, "proxy_request_buffering") == ["on"]
    assert one(SERVER, "proxy_buffering") == ["on"]
    assert one(SERVER["location /"], "proxy_pass") == ["http://app"]


@pytest.mark.parametrize("name", ["client_header_timeout", "client_body_timeout", "send_timeout"])
def test_nginx_cuts_off_a_client_silent_for_more_than_ten_seconds(name):
    assert size(one(HTTP, name)[0]) <= 10


def test_nginx_takes_the_bodies_django_takes_and_holds_them_in_memory():
    limit = size(one(HTTP, "client_max_body_size")[0])
    assert limit == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    # A body with card numbers and CVVs never goes to a temporary file.
    assert size(one(HTTP, "client_body_buffer_size")[0]) >= limit


def test_nginx_answers_a_too_large_body_in_the_apis_error_shape():
    assert ["413", "@too_large"] in SERVER["error_page"]
    status, body = one(SERVER["location @too_large"], "return")
    assert status == "413"
    assert list(json.loads(body.removesuffix("\\n"))) == ["detail"]


def test_nginx_tells_the_app_the_client_address_and_scheme_and_hides_its_version():
    headers = {args[0]: args[1] for args in SERVER["proxy_set_header"]}
    assert headers["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert headers["X-Forwarded-Proto"] == "$scheme"  # overwritten: a client cannot claim https
    assert one(HTTP, "server_tokens") == ["off"]


def test_nginx_keeps_connections_to_every_app_replica_it_finds_by_name():
    upstream = HTTP["upstream app"]
    host, *options = one(upstream, "server")
    assert "resolve" in options
    assert "zone" in upstream
    assert one(upstream, "keepalive")
    assert one(SERVER, "proxy_http_version") == ["1.1"]
    assert ["Connection", ""] in SERVER["proxy_set_header"]
    service, port = host.split(":")
    assert service in SERVICES
    assert GUNICORN["bind"].endswith(f":{port}")


def test_nginx_never_passes_the_metrics_on():
    assert one(SERVER["location = /metrics"], "return") == ["404"]
    assert "proxy_pass" not in SERVER["location = /metrics"]


def test_nginx_logs_no_request_uri():
    """Card numbers a client puts in a URL reach only gunicorn's scrubbed logs."""
    (name, *format_parts) = one(HTTP, "log_format")
    assert one(HTTP, "access_log")[1] == name
    assert not re.search(r"\$(request|request_uri|uri|args|query_string|arg_\w+)\b", " ".join(format_parts))
    assert one(NGINX, "error_log")[1] == "crit"  # error lines carry the request line


def test_gunicorn_ends_a_stuck_request_before_nginx_gives_up_on_it():
    assert GUNICORN["timeout"] < size(one(SERVER, "proxy_read_timeout")[0])


def test_gunicorn_settings_are_all_known_to_gunicorn():
    known = {setting.name for setting in KNOWN_SETTINGS}
    # Modules and private helpers aside (gunicorn ignores names it does not know: a typo would pass).
    names = {
        name
        for name, value in GUNICORN.items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, ModuleType)
    }
    assert names <= known
    assert GUNICORN["wsgi_app"] == "cardsystem.wsgi:application"
    assert GUNICORN["worker_class"] == "sync"
    assert GUNICORN["logger_class"] == "cardsystem.gunicorn_logging.ScrubbingGunicornLogger"
    assert "%(r)s" not in GUNICORN["access_log_format"]  # the request line with its query string
    assert "%(q)s" not in GUNICORN["access_log_format"]


def test_gunicorn_keeps_the_metrics_of_its_workers_in_a_directory_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # unset, and restored after the test
    server = SimpleNamespace()
    GUNICORN["on_starting"](server)
    own = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert own.is_dir() and not any(own.iterdir())
    GUNICORN["on_exit"](server)
    assert not own.exists()

    # A directory the environment names is emptied of an earlier run's files, and kept.
    (tmp_path / "counter_123.db").write_bytes(b"old counts")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    server = SimpleNamespace()
    GUNICORN["on_starting"](server)
    GUNICORN["on_exit"](server)
    assert tmp_path.is_dir() and not any(tmp_path.iterdir())


def test_the_image_serves_with_the_gunicorn_settings():
    (command,) = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD")]
    assert command == 'CMD ["gunicorn", "--config", "gunicorn.conf.py"]'


def test_compose_puts_nginx_alone_in_front_with_the_repositorys_config():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"nginx"}
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in SERVICES["nginx"]["volumes"]
    # Scalable (--scale app=N): no fixed name, no host port.
    assert "container_name" not in SERVICES["app"]


@pytest.mark.parametrize("service", ["app", "nginx"])
def test_compose_health_checks_ask_readyz(service):
    assert "/readyz" in " ".join(SERVICES[service]["healthcheck"]["test"])


def test_compose_builds_the_image_for_each_service_that_runs_it_under_its_own_name():
    built = {name for name, service in SERVICES.items() if "build" in service}
    assert built == {"migrate", "app"}
    # A shared `image:` tag on two services that build makes buildx build both into it at once.
    assert not any("image" in SERVICES[name] for name in built)


def test_compose_starts_app_servers_after_the_migrations_succeeded():
    assert SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert SERVICES["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert SERVICES["nginx"]["depends_on"]["app"] == {"condition": "service_healthy"}
    assert SERVICES["migrate"]["environment"] == SERVICES["app"]["environment"]


def test_compose_runs_production_settings_behind_one_proxy():
    environment = SERVICES["app"]["environment"]
    assert environment["DEBUG"] == "false"
    assert environment["TRUSTED_PROXY_COUNT"] == "1"
    assert environment["TRUST_X_FORWARDED_PROTO"] == "true"
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["REDIS_URL"].startswith("redis://redis:")


@pytest.mark.parametrize("name", ["SECRET_KEY", "CARD_DATA_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS"])
def test_compose_refuses_to_start_without_each_secret_and_the_example_names_it(name):
    text = (ROOT / "compose.yaml").read_text()
    assert re.search(r"\$\{" + name + r":\?[^}]+\}", text)
    assert not re.search(r"\$\{" + name + r":-", text)  # no default for it anywhere
    assert re.search(rf"^{name}=", (ROOT / ".env.example").read_text(), re.MULTILINE)


def test_the_env_file_stays_out_of_git_and_out_of_the_image():
    for ignore in (".gitignore", ".dockerignore"):
        assert ".env" in (ROOT / ignore).read_text().splitlines()
