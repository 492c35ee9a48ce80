-- The row trigger on payments (charges; BEFORE UPDATE OR DELETE, created in migration 001): a
-- charge is never deleted, its amount, currency and merchant never change, and its status moves
-- only as the transition tables allow (status_move_allowed(), the SQL form of
-- src/domain/status.ts). This file is the live definition, re-applied on every migrate;
-- migrations 001 and 013 hold earlier ones.
CREATE OR REPLACE FUNCTION payments_only_move_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'charges are never deleted';
  END IF;
  IF NEW.amount <> OLD.amount OR NEW.currency <> OLD.currency OR NEW.merchant_id <> OLD.merchant_id THEN
    RAISE EXCEPTION 'charge % : amount, currency and merchant never change', OLD.id;
  END IF;
  IF NEW.status <> OLD.status AND NOT status_move_allowed('charge', OLD.status, NEW.status) THEN
    RAISE EXCEPTION 'charge % : % -> % is not an allowed move', OLD.id, OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;
