/**
 * The FinCore PSP simulator: a package of its own in the repository, an outside PSP over HTTP
 * (native API, and a subset of Stripe's on the same port). It imports nothing from FinCore's core
 * (src/), and the core reaches it only through src/dev-simulator.ts (test/boundaries.test.ts).
 */
export {
  startPspSimulator,
  type PspSimulator,
  type PspSimulatorOptions,
  type PspSimulatorState,
  type SimLogger,
  type WebhookStats,
  type SimCharge,
  type SimRefund,
  type SimDispute,
  type NextReport,
  type ScenarioSettings,
  type SimEvent,
} from './server.ts';
export { faultsFromEnv, DEFAULT_FAULTS, mulberry32, type SimFaults, type FaultCounts } from './faults.ts';
