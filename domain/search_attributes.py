"""The contract's search attributes (no personal data: they are stored unencrypted)."""

from temporalio.common import SearchAttributeKey

SELLER_ID = SearchAttributeKey.for_keyword("SellerId")
ONBOARDING_STAGE = SearchAttributeKey.for_keyword("OnboardingStage")
CLEARED_FOR_RETURNS = SearchAttributeKey.for_bool("ClearedForReturns")
WAITING_ON = SearchAttributeKey.for_keyword_list("WaitingOn")
STALLED = SearchAttributeKey.for_bool("Stalled")
RETURN_STATE = SearchAttributeKey.for_keyword("ReturnState")
DISPOSAL_DUE_AT = SearchAttributeKey.for_datetime("DisposalDueAt")

ALL = (SELLER_ID, ONBOARDING_STAGE, CLEARED_FOR_RETURNS, WAITING_ON, STALLED, RETURN_STATE, DISPOSAL_DUE_AT)
