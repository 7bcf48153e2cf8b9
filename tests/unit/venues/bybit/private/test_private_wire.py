"""The private decoders on frames shaped like Bybit's documented examples."""

import math

import msgspec

from scalper.trading.orders import BUY, SELL, OrderStatus, OrderType, TimeInForce
from scalper.venues.bybit.private import wire
from scalper.venues.bybit.private.errors import DuplicateOrderError

ORDER_PUSH = b"""{"id":"5923240c6880ab-c59f-420b-9adb-3639adc9dd90","topic":"order",
"creationTime":1672364262474,"data":[{"symbol":"ETHUSDT","orderId":"5cf98598-39a7-459e-97bf",
"side":"Sell","orderType":"Limit","cancelType":"UNKNOWN","price":"1212.00","qty":"0.10",
"orderIv":"","timeInForce":"PostOnly","orderStatus":"PartiallyFilled","orderLinkId":"scalp-abc",
"lastPriceOnCreated":"","reduceOnly":false,"leavesQty":"0.04","leavesValue":"48.48",
"cumExecQty":"0.06","cumExecValue":"72.72","avgPrice":"1212","blockTradeId":"",
"positionIdx":0,"cumExecFee":"0.0145","createdTime":"1672364262444",
"updatedTime":"1672364262457","rejectReason":"EC_NoError","category":"linear"}]}"""

EXEC_PUSH = b"""{"topic":"execution","id":"386825804_BTCUSDT_140612148849382",
"creationTime":1746270400355,"data":[{"category":"linear","symbol":"BTCUSDT",
"closedSize":"0.5","execFee":"26.3725275","execId":"0ab1bdf7-4219-438b-b30a-32ec863018f7",
"execPrice":"95900.1","execQty":"0.5","execType":"Trade","execValue":"47950.05",
"feeRate":"0.00055","isMaker":false,"leavesQty":"0","orderId":"9aac161b-8ed6-450d-9cab",
"orderLinkId":"","orderPrice":"94942.5","orderQty":"0.5","orderType":"Market",
"side":"Sell","execTime":"1746270400353","seq":140612148849382}]}"""

FAST_PUSH = b"""{"topic":"execution.fast.linear","creationTime":1716800399338,"data":[
{"category":"linear","symbol":"ICPUSDT","execId":"3510f361-0add-5c7b-a2e7-9679810944fc",
"execPrice":"12.015","execQty":"3000","orderId":"443d63fa-b4c3-4297-b7b1-23bca88b04dc",
"isMaker":true,"orderLinkId":"","side":"Sell","execTime":"1716800399334","seq":34771365464}]}"""

POSITION_PUSH = b"""{"id":"1003076014fb7eedb-c7e6-45d6-a8c1-270f0169171a","topic":"position",
"creationTime":1697682317044,"data":[{"positionIdx":0,"tradeMode":0,"riskId":1,
"riskLimitValue":"2000000","symbol":"BTCUSDT","side":"Sell","size":"0.01","entryPrice":"30000",
"leverage":"10","positionValue":"300","markPrice":"28184.5","positionIM":"0",
"unrealisedPnl":"18.155","cumRealisedPnl":"-1.2","updatedTime":"1697682317038",
"seq":8172376949,"category":"linear"}]}"""

WALLET_PUSH = b"""{"id":"592324d2bce751-ad38-48eb-8f42-4671d1fb4d4e","topic":"wallet",
"creationTime":1700034722104,"data":[{"accountIMRate":"0","totalEquity":"10262.91",
"totalWalletBalance":"9684.46","totalAvailableBalance":"9556.6","accountType":"UNIFIED",
"coin":[{"coin":"USDT","equity":"9685.1","walletBalance":"9684.46"}]}]}"""


def test_order_push() -> None:
    message = wire.decode_stream(ORDER_PUSH)
    assert isinstance(message, wire.StreamTopic) and message.topic == "order"
    (order,) = message.rows
    assert order.order_link_id == "scalp-abc" and order.side == SELL
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.time_in_force is TimeInForce.POST_ONLY and order.order_type is OrderType.LIMIT
    assert order.filled_qty == 0.06 and order.avg_price == 1212.0 and order.price == 1212.0
    assert order.reason == "" and order.updated_ms == 1672364262457


def test_execution_pushes_full_and_fast() -> None:
    (full,) = wire.decode_stream(EXEC_PUSH).rows
    assert full.fee == 26.3725275 and full.fee_rate == 0.00055 and not full.is_maker
    assert full.side == SELL and full.qty == 0.5 and full.exec_type == "Trade" and not full.fast
    fast_message = wire.decode_stream(FAST_PUSH)
    assert fast_message.topic == "execution"
    (fast,) = fast_message.rows
    assert fast.fast and fast.is_maker and fast.order_link_id == "" and math.isnan(fast.fee)


def test_position_and_wallet_pushes() -> None:
    (position,) = wire.decode_stream(POSITION_PUSH).rows
    assert position.size == -0.01 and position.entry_price == 30000.0
    (wallet,) = wire.decode_stream(WALLET_PUSH).rows
    assert wallet.total_equity == 10262.91 and wallet.coins == {"USDT": 9684.46}


def test_control_answers_and_bad_frames_never_raise() -> None:
    auth = wire.decode_stream(b'{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}')
    assert auth == wire.StreamControl(op="auth", success=True, ret_msg="", req_id="")
    pong = wire.decode_stream(b'{"req_id":"","op":"pong","args":["1"],"conn_id":"c"}')
    assert isinstance(pong, wire.StreamControl) and pong.success
    for bad in (b"not json", b"{}", b'{"topic":"dcp","data":[]}', b'{"topic":"order","data":3}'):
        assert isinstance(wire.decode_stream(bad), wire.MalformedMessage)


def test_rest_answers() -> None:
    raw, time_ms = wire.decode_envelope(
        b'{"retCode":0,"retMsg":"OK","result":{"orderId":"1","orderLinkId":"scalp-x"},'
        b'"retExtInfo":{},"time":1672211918471}',
        "create",
    )
    assert wire.parse_ack(raw, "create") == wire.OrderAck(order_id="1", order_link_id="scalp-x")
    assert time_ms == 1672211918471
    try:
        wire.decode_envelope(b'{"retCode":110072,"retMsg":"OrderLinkedID is duplicate"}', "x")
    except DuplicateOrderError as exc:
        assert exc.ret_code == 110072
    else:
        raise AssertionError("110072 must raise")
    positions, _ = wire.parse_positions(
        msgspec.Raw(
            b'{"list":[{"symbol":"BTCUSDT","side":"Buy","size":"0.3","avgPrice":"100"},'
            b'{"symbol":"ETHUSDT","side":"","size":"0","avgPrice":"0"}]}'
        )
    )
    assert [(p.symbol, p.size, p.entry_price) for p in positions] == [
        ("BTCUSDT", 0.3, 100.0),
        ("ETHUSDT", 0.0, 0.0),
    ]
    fees = wire.parse_fee_rates(
        msgspec.Raw(
            b'{"list":[{"symbol":"BTCUSDT","takerFeeRate":"0.00055","makerFeeRate":"0.0002"}]}'
        )
    )
    assert fees["BTCUSDT"].taker == 0.00055 and fees["BTCUSDT"].maker == 0.0002
    assert (
        wire.parse_server_time_ms(
            msgspec.Raw(b'{"timeSecond":"1688639403","timeNano":"1688639403423213947"}')
        )
        == 1688639403423
    )
    instruments, cursor = wire.parse_instruments(
        msgspec.Raw(
            b'{"list":[{"symbol":"BTCUSDT","status":"Trading","fundingInterval":480,'
            b'"priceFilter":{"tickSize":"0.10"},"lotSizeFilter":{"qtyStep":"0.001",'
            b'"minOrderQty":"0.001","maxOrderQty":"1190","maxMktOrderQty":"119",'
            b'"minNotionalValue":"5"}}],"nextPageCursor":""}'
        )
    )
    assert instruments[0].tick_size == "0.10" and instruments[0].max_qty == 1190.0
    assert instruments[0].min_notional == 5.0 and cursor == ""
    assert BUY == 1
