// The webhooks of the hosted checkouts whose secret is set: /hooks/stripe, /hooks/hotmart, /hooks/kiwify.
import type { ClickHouse } from '../events/clickhouse.ts';
import type { Route } from '../http/server.ts';
import { hotmartRoute } from './hotmart.ts';
import { kiwifyRoute } from './kiwify.ts';
import type { CheckoutDeps } from './sale.ts';
import { stripeRoute } from './stripe.ts';
import { visitorTouches } from './touches.ts';

export interface CheckoutSecrets {
  stripe: string | undefined;
  hotmart: string | undefined;
  kiwify: string | undefined;
}

export function checkoutRoutes(secrets: CheckoutSecrets, deps: Omit<CheckoutDeps, 'touches'> & { clickhouse: ClickHouse }): Route[] {
  const { clickhouse, ...rest } = deps;
  const sale: CheckoutDeps = { ...rest, touches: (visitorId) => visitorTouches(clickhouse, visitorId) };
  return [
    ...(secrets.stripe ? [stripeRoute({ ...sale, secret: secrets.stripe })] : []),
    ...(secrets.hotmart ? [hotmartRoute({ ...sale, hottok: secrets.hotmart })] : []),
    ...(secrets.kiwify ? [kiwifyRoute({ ...sale, token: secrets.kiwify })] : []),
  ];
}
