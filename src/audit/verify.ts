/** `fincore audit verify` reads its report's shape here; the check itself is src/flows/audit-verify.ts. */
export { verifyAuditTrail, type VerifyReport } from '../flows/audit-verify.ts';
