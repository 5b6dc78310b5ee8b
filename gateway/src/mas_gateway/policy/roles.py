"""Role and group hierarchies (g and g2 lines): closure, shortest chains, cycle checks."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from .errors import Issue
from .rules import Link

__all__ = ["MAX_DEPTH", "RoleGraph"]

MAX_DEPTH = 8
"""Longest member → role chain allowed; Casbin stops following links a little further on."""


class RoleGraph:
    """Directed member → parent links of one kind (g or g2); self-links only mark membership."""

    def __init__(self, links: Sequence[Link]) -> None:
        self.links = tuple(links)
        self._parents: dict[str, list[Link]] = {}
        for link in links:
            self._parents.setdefault(link.member, []).append(link)
        self.parent_names = frozenset(link.parent for link in links)
        self.member_names = frozenset(link.member for link in links)

    def parents(self, name: str) -> list[Link]:
        """Links from `name` to its direct parents, in file order."""
        return self._parents.get(name, [])

    def closure(self, starts: Iterable[str]) -> set[str]:
        """Every name reachable from `starts` by one or more links."""
        found: set[str] = set()
        queue = deque(starts)
        while queue:
            for link in self.parents(queue.popleft()):
                if link.parent not in found:
                    found.add(link.parent)
                    queue.append(link.parent)
        return found

    def chain(self, start: str, goal: str) -> list[Link] | None:
        """Shortest list of links from `start` to `goal` ([] when equal, None when unreachable)."""
        if start == goal:
            return []
        previous: dict[str, Link] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            name = queue.popleft()
            for link in self.parents(name):
                if link.parent in seen:
                    continue
                seen.add(link.parent)
                previous[link.parent] = link
                if link.parent == goal:
                    path = [link]
                    while path[0].member != start:
                        path.insert(0, previous[path[0].member])
                    return path
                queue.append(link.parent)
        return None

    def check(self, file: str) -> list[Issue]:
        """Cycles (other than self-links) and chains longer than `MAX_DEPTH`."""
        state: dict[str, int] = {}
        depth: dict[str, int] = {}
        issues: list[Issue] = []

        def too_long(link: Link) -> None:
            if not any(issue.line == link.line for issue in issues):
                message = f"{link} makes a chain of more than {MAX_DEPTH} links; flatten it"
                issues.append(Issue(file, link.line, message))

        def visit(name: str, level: int) -> int:
            state[name] = 1
            longest = 0
            for link in self.parents(name):
                if link.parent == name:
                    continue
                mark = state.get(link.parent, 0)
                if mark == 1:
                    message = f"{link} closes a cycle: {link.parent} is below {name}"
                    issues.append(Issue(file, link.line, message))
                    continue
                if mark == 0 and level >= MAX_DEPTH:
                    too_long(link)
                    longest = MAX_DEPTH + 1
                    continue
                below = depth[link.parent] if mark == 2 else visit(link.parent, level + 1)
                longest = max(longest, below + 1)
                if longest > MAX_DEPTH:
                    too_long(link)
            state[name] = 2
            depth[name] = longest
            return longest

        for member in sorted(self.member_names):
            if state.get(member, 0) == 0:
                visit(member, 0)
        return issues
