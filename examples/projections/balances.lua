-- balances.lua — account balances from the account-* streams: a read model
-- of one row per account, kept by three handlers. Load it with
--   redis-cli PROJECTION.CREATE balances "$(cat examples/projections/balances.lua)"
-- or start the server with --projections examples/projections.
return {
  source = "$ce-account",            -- every stream named account-...
  init = function(db)
    db:exec("CREATE TABLE IF NOT EXISTS balances(id TEXT PRIMARY KEY, name TEXT, balance INTEGER)")
  end,
  handlers = {
    AccountCreated = function(db, e)
      db:exec("INSERT INTO balances VALUES(?, ?, 0)", e.stream, e.data.name)
    end,
    MoneyDeposited = function(db, e)
      db:exec("UPDATE balances SET balance = balance + ? WHERE id = ?", e.data.amount, e.stream)
    end,
    MoneyWithdrawn = function(db, e)
      db:exec("UPDATE balances SET balance = balance - ? WHERE id = ?", e.data.amount, e.stream)
    end,
  },
}
