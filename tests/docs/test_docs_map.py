"""The README stays a newcomer's first page and the `docs/` pages hold the rest: every link and
every repository path they name exists, every page is reachable from the README, and every section
the spec and the old one-file README named is still a heading somewhere."""

import functools
import re
import subprocess
from pathlib import Path

import pytest

from tests.docs.readme_facts import DOCS, README, ROOT, documents

README_MAX_LINES = 300

# The spec's (SBS-Platform-README.ru.md) section names: each is (part of) a heading.
SPEC_SECTIONS = (
    "SBS Platform — инфраструктурный каркас",
    "Быстрый старт",
    "Проверочные вызовы",
    "Как всё устроено",
    "Сервисы и процессы",
    "Автоматизация миграций",
    "OpenTelemetry поток",
    "CI/CD конвейер",
    "Структура проекта",
    "Корень",
    "Приложение (`app/`)",
    "Миграции (`alembic/`)",
    "Инфраструктура (`deploy/`, `infrastructure/`, `monitoring/`, `scripts/`)",
    "Тесты",
    "Переменные окружения",
    "CI/CD и окружения",
    "GitHub Actions",
    "Helm/Terraform/Ansible",
    "Диагностика и DoD",
)

# Every heading of the README before it was split into `docs/`: each is still a heading.
FORMER_README_SECTIONS = (
    "SBS Platform — инфраструктурный каркас",
    "Быстрый старт без Docker",
    "Цели Makefile",
    "Запуск в Docker",
    "Образ без Docker (podman)",
    "Проверочные вызовы",
    "API",
    "Лимиты",
    "Окружение `SBS_ENVIRONMENT`",
    "Доступ: токены, OIDC/JWT, scopes, аудит",
    "Готовность и остановка",
    "Подключения как в продакшне: реплики, переключение, TLS",
    "Отказ мастера Redis и узла NATS",
    "Как всё устроено",
    "Сервисы и процессы",
    "Отказ PostgreSQL и переключение на standby",
    "Автоматизация миграций",
    "Безопасные миграции: expand, migrate, contract",
    "Точки входа процессов",
    "OpenTelemetry поток",
    "Наблюдаемость",
    "Мониторинг и алерты",
    "Версионирование воркеров",
    "Переменные окружения",
    "Тесты",
    "Репетиция продакшен-топологии",
    "Бенчмарки",
    "CI/CD и окружения",
    "GitHub Actions",
    "Helm/Terraform/Ansible",
    "Релизы, обновление и резервные копии",
    "Релизы",
    "Обновление платформы",
    "Резервные копии и восстановление",
    "Разработка на платформе: рецепты",
    "Модель и миграция",
    "Настройка",
    "Маршрут с зависимостью и обработкой ошибок",  # noqa: RUF001 (Russian "s")
    "Новая зависимость (сервис)",
    "Workflow и activity",
    "Изменить workflow",
    "Подписчик NATS",
    "Структура проекта",
    "Корень",
    "Приложение (`app/`)",
    "Миграции (`alembic/`)",
    "Локальный стек (`devstack/`)",
    "Инфраструктура (`deploy/`, `infrastructure/`, `monitoring/`, `scripts/`)",
    "Репетиция (`rehearsal/`)",
    "Тесты и бенчмарки",
    "Диагностика и DoD",
    "Если что-то не так",
    "Windows",
)

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# An inline `top/level/path.ext` whose first part is a directory of the repository.
REPO_PATH = re.compile(r"`([A-Za-z_.][\w.-]*/[\w./-]*\.[a-z0-9]+)`")


def prose(path: Path) -> str:
    """The document without its fenced code blocks."""
    kept, fenced = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in prose(path).splitlines() if re.match(r"#+ ", line)]


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of `path` (lower case, punctuation dropped, `-` for
    spaces, `-1`, `-2`… for repeats)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(path):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def all_headings() -> set[str]:
    return {heading for path in documents() for heading in headings(path)}


def created_by_recipes() -> set[str]:
    """Files the recipes tell a developer to write (their blocks start with `# path`)."""
    return set(re.findall(r"```python\n# (\S+\.py)\n", (DOCS / "recipes.md").read_text()))


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in LINK.findall(prose(path)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: — outside the repository
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
            continue
        if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert broken == [], f"{path.relative_to(ROOT)}: links that lead nowhere: {broken}"


@functools.cache
def tracked_top_level() -> frozenset[str]:
    """The repository's own top-level names: what `make up` or a test leaves beside them
    (`.state/`, `.venv/`) is not the repository, and its paths are not checked."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    return frozenset(line.split("/", 1)[0] for line in listed.stdout.splitlines())


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_every_named_repository_path_exists(path: Path) -> None:
    top_level = tracked_top_level()
    missing = [
        name
        for name in REPO_PATH.findall(prose(path))
        if name.split("/", 1)[0] in top_level
        and not any(character in name for character in "*{<")
        and name not in created_by_recipes()
        and not (ROOT / name).exists()
    ]
    assert missing == [], f"{path.relative_to(ROOT)} names files that do not exist: {missing}"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in LINK.findall(README.read_text())
    }
    unlinked = [page.name for page in sorted(DOCS.glob("*.md")) if page.resolve() not in linked]
    assert unlinked == [], f"docs pages the README does not lead to: {unlinked}"


def test_the_readme_is_short_and_starts_with_what_a_newcomer_needs() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    assert headings(README)[:3] == [
        "SBS Platform — инфраструктурный каркас",
        "Быстрый старт без Docker",
        "Проверочные вызовы",
    ]
    assert "Куда дальше" in headings(README)


def test_every_spec_section_is_still_a_heading() -> None:
    present = all_headings()
    lost = [name for name in SPEC_SECTIONS if not any(name in heading for heading in present)]
    assert lost == [], f"spec sections no heading names: {lost}"


def test_every_former_readme_section_is_still_a_heading() -> None:
    lost = sorted(set(FORMER_README_SECTIONS) - all_headings())
    assert lost == [], f"sections of the former README that are gone: {lost}"
