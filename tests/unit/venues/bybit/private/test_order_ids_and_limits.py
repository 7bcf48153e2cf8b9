import pytest

from scalper.settings import BybitPrivateSettings
from scalper.venues.bybit.private.errors import (
    AuthenticationError,
    DuplicateOrderError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitError,
    TimeWindowError,
    error_for,
    error_for_http,
)
from scalper.venues.bybit.private.order_ids import is_ours, is_valid, new_order_link_id
from scalper.venues.bybit.private.rate_limit import (
    RESET_MARGIN_S,
    RateLimiter,
    RequestKind,
    TokenBucket,
)


def test_order_link_ids_are_unique_short_and_in_the_alphabet() -> None:
    ids = {new_order_link_id("scalp") for _ in range(1000)}
    assert len(ids) == 1000
    for link in ids:
        assert is_valid(link) and len(link) <= 36 and is_ours(link, "scalp")
    assert not is_ours("manual-123", "scalp")
    assert not is_valid("a" * 37) and not is_valid("bad id")
    with pytest.raises(ValueError):
        new_order_link_id("x" * 20)


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_spends_the_burst_then_paces() -> None:
    clock = _Clock()
    bucket = TokenBucket(10.0, clock=clock)
    assert [bucket.reserve() for _ in range(10)] == [0.0] * 10
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    clock.t += 1.0
    assert bucket.reserve() == 0.0


def test_pauses_from_headers_and_ip_bans() -> None:
    clock = _Clock()
    limiter = RateLimiter(BybitPrivateSettings(), clock=clock)
    limiter.on_headers(
        RequestKind.CREATE,
        {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "1500"},
        venue_now_ms=1000,
    )
    assert limiter.buckets[RequestKind.CREATE].reserve() == pytest.approx(0.5 + RESET_MARGIN_S)
    assert limiter.buckets[RequestKind.CANCEL].reserve() == 0.0
    limiter.on_headers(RequestKind.CANCEL, {"X-Bapi-Limit-Status": "7"}, venue_now_ms=1000)
    assert limiter.buckets[RequestKind.CANCEL].reserve() == 0.0
    limiter.pause_all(600.0)
    assert limiter.buckets[RequestKind.QUERY].reserve() == pytest.approx(600.0)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (10002, TimeWindowError),
        (10003, AuthenticationError),
        (10004, AuthenticationError),
        (10006, RateLimitError),
        (110072, DuplicateOrderError),
        (110001, OrderNotFoundError),
        (110007, OrderRejectedError),
        (123456, OrderRejectedError),
    ],
)
def test_every_ret_code_is_a_typed_error_naming_it(code, cls) -> None:
    error = error_for(code, "some message", "POST /v5/order/create")
    assert isinstance(error, cls)
    assert error.ret_code == code
    assert str(code) in str(error) and "some message" in str(error)


def test_http_403_is_an_ip_ban_with_a_pause() -> None:
    error = error_for_http(403, "access too frequent", "GET /v5/position/list", 600.0)
    assert isinstance(error, RateLimitError) and error.retry_after_s == 600.0


def test_a_lower_account_limit_from_the_headers_paces_the_bucket() -> None:
    clock = _Clock()
    limiter = RateLimiter(BybitPrivateSettings(), clock=clock)
    limiter.on_headers(RequestKind.AMEND, {"X-Bapi-Limit": "5", "X-Bapi-Limit-Status": "3"}, 0)
    assert limiter.buckets[RequestKind.AMEND].rate == pytest.approx(4.5)
    limiter.on_headers(RequestKind.AMEND, {"X-Bapi-Limit": "50"}, 0)
    assert limiter.buckets[RequestKind.AMEND].rate == pytest.approx(4.5)
