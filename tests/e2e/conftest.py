"""End-to-end fixtures: the JVM probe for keystore checks (cluster fixtures are in tests/)."""

from tests.javafixtures import java_probe

__all__ = ["java_probe"]
