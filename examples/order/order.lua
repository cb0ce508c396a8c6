-- The order saga (examples/order): OrderPlaced -> ReserveStock -> ChargePayment
-- -> ShipOrder. A declined payment releases the stock again.
--   redis-cli -p 6379 SAGA.DEFINE order "$(cat examples/order/order.lua)"
-- or start the server with --sagas examples/order.
return {
  trigger = { stream = "$et-OrderPlaced" },
  id = function(e) return e.data.order_id end,
  steps = {
    { name = "reserve",
      send = { stream = "inventory-commands", type = "ReserveStock",
               data = function(saga) return { order_id = saga.id, sku = saga.data.sku,
                                              qty = saga.data.qty } end },
      ok = "StockReserved", fail = "StockUnavailable",
      compensate = { stream = "inventory-commands", type = "ReleaseStock" },
      timeout_ms = 5000, retries = 2, backoff_ms = 200 },
    { name = "charge",
      send = { stream = "payment-commands", type = "ChargePayment",
               data = function(saga) return { order_id = saga.id, amount = saga.data.amount } end },
      ok = "PaymentProcessed", fail = "PaymentDeclined",
      -- keep the payment's id: the refund and the shipment name it
      on_ok = function(saga, e) saga.data.payment_id = e.data.payment_id end,
      compensate = { stream = "payment-commands", type = "RefundPayment" } },
    { name = "ship",
      send = { stream = "shipping-commands", type = "ShipOrder" },
      ok = "OrderShipped", fail = "ShippingFailed" },
  },
}
