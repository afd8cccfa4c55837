"""The closed vocabularies of the domain contract (shared/triage-spec.md)."""

from enum import IntEnum, StrEnum


class Platform(StrEnum):
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    MESSENGER = "messenger"
    WHATSAPP = "whatsapp"
    X = "x"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    LINKEDIN = "linkedin"
    TELEGRAM = "telegram"


class Channel(StrEnum):
    PUBLIC_COMMENT = "public_comment"
    DIRECT_MESSAGE = "direct_message"
    MENTION = "mention"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Lane(StrEnum):
    COMMUNITY = "community"
    SALES = "sales"
    SUPPORT = "support"
    RISK = "risk"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


class IssueType(StrEnum):
    ACCOUNT_COMPROMISE = "account_compromise"
    SAFETY_THREAT = "safety_threat"
    HARASSMENT = "harassment"
    LEGAL_REGULATORY = "legal_regulatory"
    PAYMENT_ISSUE = "payment_issue"
    ORDER_SHIPPING = "order_shipping"
    TECHNICAL_ISSUE = "technical_issue"
    PRODUCT_QUESTION = "product_question"
    SALES_LEAD = "sales_lead"
    PARTNERSHIP = "partnership"
    FEEDBACK = "feedback"
    SPAM = "spam"


class Tier(IntEnum):
    """Escalation tier: 0 the lane's team, 1 a specialist, 2 leadership."""

    TEAM = 0
    SPECIALIST = 1
    LEADERSHIP = 2


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class ReplyMode(StrEnum):
    DM = "dm"
    PUBLIC_FIRST = "public_first"
    PUBLIC_ACK_THEN_DM = "public_ack_then_dm"
    MODERATE = "moderate"
    HIDE = "hide"


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD_NUMBER = "card_number"
    ORDER_NUMBER = "order_number"
    IBAN = "iban"
    NATIONAL_ID = "national_id"
    PASSWORD = "password"  # a password or one-time code typed in
    STREET_ADDRESS = "street_address"


class ConversationEventType(StrEnum):
    AGENT_REPLIED = "agent_replied"
    PAUSED = "paused"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    RECLASSIFIED = "reclassified"  # a person corrected the message's classification


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AssignStrategy(StrEnum):
    LEAST_LOADED = "least_loaded"
    ROUND_ROBIN = "round_robin"


class AlertKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    WINDOW_CLOSING = "window_closing"
    RESOLUTION_WARNING = "resolution_warning"
    RESOLUTION_BREACH = "resolution_breach"
    FOLLOW_UP_DUE = "follow_up_due"
    CLOSURE_NOTE_DUE = "closure_note_due"


class SurgeKind(StrEnum):
    """What the surge detector reports about the inbox as a whole (not one conversation)."""

    SURGE = "surge"  # a dimension's volume well above what it usually sees at this hour
    SURGE_RESOLVED = "surge_resolved"
    NEGATIVE_SHARE = "negative_share"  # a lane's share of negative messages well above usual
    P1_CLUSTER = "p1_cluster"  # several safety threats or account compromises within minutes


class SurgeDimension(StrEnum):
    LANE = "lane"
    PLATFORM = "platform"
    ISSUE_TYPE = "issue_type"


class Severity(StrEnum):
    """How loudly on-call is told: info is a reminder, a warning informs, critical pages."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class ActorKind(StrEnum):
    """Who wrote a brand reply: a person, or automation (a chatbot, an auto-acknowledgement).
    Only a human reply stops a response clock."""

    HUMAN = "human"
    AUTOMATION = "automation"


class ResponseKind(StrEnum):
    """Which reply a response clock waits for: the first in a conversation, or the next one
    after a customer wrote again following an agent's reply."""

    FIRST = "first"
    NEXT = "next"
