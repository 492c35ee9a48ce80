/**
 * Why a flow ran (an API request, a job, a PSP event): recorded on every event it appends. Routes
 * and job handlers name the cause they pass in with this type, without reaching into src/db/.
 */
export type { Cause } from '../db/events.ts';
