"""The database mappings; import from here."""

from webapp.models.admin import (
    PERMISSIONS,
    ROLE_LABELS,
    ROLES,
    Admin,
    AdminProviderSettings,
    ApiToken,
    role_label,
)
from webapp.models.audit import AuditEvent
from webapp.models.base import utcnow
from webapp.models.cache import CacheGeneration
from webapp.models.catalog import ACTIVE_ROW, AIModel, ModelCapability, Provider
from webapp.models.health import HealthCheck
from webapp.models.policies import RoutingFallback, RoutingSplit, Schedule
from webapp.models.rollup import UsageHourly
from webapp.models.session import LoginSession
from webapp.models.usage import UsageCall

__all__ = [
    "ACTIVE_ROW",
    "PERMISSIONS",
    "ROLES",
    "ROLE_LABELS",
    "AIModel",
    "Admin",
    "AdminProviderSettings",
    "ApiToken",
    "AuditEvent",
    "CacheGeneration",
    "HealthCheck",
    "LoginSession",
    "ModelCapability",
    "Provider",
    "RoutingFallback",
    "RoutingSplit",
    "Schedule",
    "UsageCall",
    "UsageHourly",
    "role_label",
    "utcnow",
]
