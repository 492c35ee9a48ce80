/**
 * Dead-lettering a job after its last attempt is a flow (src/flows/dead-letter.ts: the job's state
 * and its audit event in one transaction); both transports' consumers reach it by this name.
 */
export { recordDeadLetter } from '../flows/dead-letter.ts';
