-- The row trigger on refunds (BEFORE UPDATE, created in migration 001): a refund's facts never
-- change; its status moves only as the transition tables allow (status_move_allowed(), the SQL
-- form of src/domain/status.ts), and its metadata is the one merchant-writable field
-- (POST /v1/refunds/{id}, src/db/refunds.ts updateRefundMetadata). This file is the live
-- definition, re-applied on every migrate; migrations 001, 013 and 018 hold earlier ones.
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
  RETURN NEW;
END $$;
