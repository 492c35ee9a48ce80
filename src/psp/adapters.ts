/**
 * The PSP adapters FinCore can run with, by the name FINCORE_PSP gives them. An adapter is its own
 * folder (src/psp/<name>/: adapter, pure mapping, webhook) plus one line here; nothing else
 * imports an adapter folder (test/boundaries.test.ts holds that). src/config.ts accepts exactly
 * these names and src/context.ts builds the configured one.
 */
import { ConfigError, type Config } from '../config.ts';
import type { PspGateway } from './gateway.ts';
import { createSimulatorGateway } from './simulator/adapter.ts';
import { createStripeGateway } from './stripe/adapter.ts';

/** The settings an adapter reads, and the simulator started in this process, when there is one. */
export type PspFactory = (config: Pick<Config, 'simUrl' | 'pspWebhookSecret' | 'pspTimeoutMs' | 'stripe'>, simulatorUrl?: string) => PspGateway;

/** A key the simulator's Stripe mode accepts; never valid at Stripe. */
const SIMULATOR_STRIPE_KEY = 'sk_test_fincore_simulator';

const stripe: PspFactory = (config, simulatorUrl) => {
  // With no STRIPE_API_BASE, the simulator started in this process plays Stripe, if there is one.
  const apiBase = config.stripe.apiBase || simulatorUrl || '';
  const secretKey = config.stripe.secretKey || (apiBase ? SIMULATOR_STRIPE_KEY : '');
  if (!secretKey) throw new ConfigError('FINCORE_PSP=stripe needs STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET)');
  return createStripeGateway({ secretKey, webhookSecret: config.stripe.webhookSecret, apiBase, timeoutMs: config.pspTimeoutMs });
};

const simulator: PspFactory = (config, simulatorUrl) =>
  createSimulatorGateway({ baseUrl: simulatorUrl ?? config.simUrl, webhookSecret: config.pspWebhookSecret, timeoutMs: config.pspTimeoutMs });

/** One line per adapter. The first is the default. */
export const PSP_ADAPTERS = {
  simulator,
  stripe,
} as const satisfies Record<string, PspFactory>;

export type PspName = keyof typeof PSP_ADAPTERS;
export const PSP_NAMES = Object.keys(PSP_ADAPTERS) as PspName[];

export function isPspName(name: string): name is PspName {
  return Object.hasOwn(PSP_ADAPTERS, name);
}
