/**
 * The core's one door to the PSP simulator, which is a package of its own (psp-simulator/, an
 * outside PSP that imports nothing from FinCore). Only the development entry points use it: `start`
 * (src/main.ts, when it runs the simulator in-process) and `fincore psp-simulator` (src/cli.ts).
 * The simulator is loaded with a dynamic import, so nothing of it is loaded unless a simulator is
 * started; the Lambda's entry (src/lambda.ts) never reaches this module, and test/lambda-bundle.test.ts
 * checks that its bundle holds no simulator code. test/boundaries.test.ts keeps this the only
 * module under src/ that names psp-simulator/.
 */
import { ConfigError, type Config } from './config.ts';

export interface DevSimulatorLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface DevSimulatorTargets {
  /** Where native webhooks go; a function is resolved at each delivery attempt. */
  webhookUrl: string | (() => string);
  /** Where its Stripe mode sends Stripe-signed events. */
  stripeWebhookUrl: string | (() => string);
  logger: DevSimulatorLogger;
}

export interface DevSimulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface DevSimulatorStarter {
  start(targets: DevSimulatorTargets): Promise<DevSimulator>;
}

/**
 * Loads the simulator and checks its FINCORE_SIM_* fault settings (with the simulator's own
 * parser), so a bad value stops start-up with a ConfigError before anything is opened.
 */
export async function loadDevSimulator(config: Config): Promise<DevSimulatorStarter> {
  let simulator: typeof import('../psp-simulator/index.ts');
  try {
    simulator = await import('../psp-simulator/index.ts');
  } catch (error) {
    // The container image is built without it (Dockerfile): it runs `fincore api` only.
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes('psp-simulator')) {
      throw new ConfigError('this build has no PSP simulator (the container image leaves it out): set FINCORE_SIM_URL to a running one, or run `fincore api` and `fincore worker`');
    }
    throw error;
  }
  let faults: ReturnType<typeof simulator.faultsFromEnv>;
  try {
    faults = simulator.faultsFromEnv(config.simEnv);
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  return {
    start: (targets) =>
      simulator.startPspSimulator({
        host: config.simHost,
        port: config.simPort,
        webhookUrl: targets.webhookUrl,
        webhookSecret: config.pspWebhookSecret,
        stripe: { webhookUrl: targets.stripeWebhookUrl, webhookSecret: config.stripe.webhookSecret },
        settleMs: config.simSettleMs,
        faults,
        logger: targets.logger,
      }),
  };
}
