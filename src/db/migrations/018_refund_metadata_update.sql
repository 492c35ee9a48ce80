-- POST /v1/refunds/{id} updates a refund's metadata (the merchant's own labels). The refund row
-- stays immutable otherwise: its charge, amount, currency, merchant, creation time, origin and
-- reason never change, and its status moves only as status_move_allowed() says. Metadata is named
-- here as the one merchant-writable field so that a later guard does not forbid it by accident.
CREATE OR REPLACE FUNCTION refunds_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.payment_id <> OLD.payment_id OR NEW.amount <> OLD.amount OR NEW.currency <> OLD.currency
     OR NEW.merchant_id <> OLD.merchant_id OR NEW.created_at <> OLD.created_at OR NEW.origin <> OLD.origin
     OR NEW.reason IS DISTINCT FROM OLD.reason THEN
    RAISE EXCEPTION 'refund % : charge, amount, currency, origin and reason never change', OLD.id;
  END IF;
  IF NEW.status <> OLD.status AND NOT status_move_allowed('refund', OLD.status, NEW.status) THEN
    RAISE EXCEPTION 'refund % : % -> % is not an allowed move', OLD.id, OLD.status, NEW.status;
  END IF;
  -- NEW.metadata may differ from OLD.metadata: the merchant's update (src/db/refunds.ts updateRefundMetadata).
  RETURN NEW;
END $$;
