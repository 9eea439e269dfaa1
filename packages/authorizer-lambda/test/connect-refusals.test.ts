import {
  ALLOW_DECISION_REASONS,
  CONNECT_REFUSALS,
  refusalCauseOfDecision,
  type AuthorizerDecisionLine,
  type ConnectRefusal,
} from '@iot-custom-auth/protocol';
import { DECISION_REASONS, INTERNAL_FAILURE_REASONS, type DecisionLogEntry } from '../src';

// protocol's CONNECT_REFUSALS is the one table the client explains refusals from: every reason code this
// Lambda can log must be in it exactly once, with the CONNACK code its answer leads to.

const rows = Object.entries(CONNECT_REFUSALS) as [string, ConnectRefusal][];

describe("the authorizer's decision reasons in protocol's CONNECT_REFUSALS", () => {
  it('lists every decision reason exactly once, as an allow or under one refusal cause', () => {
    const listed = [...ALLOW_DECISION_REASONS, ...rows.flatMap(([, row]) => row.decisionReasons)];
    expect([...listed].sort()).toEqual(Object.keys(DECISION_REASONS).sort());
  });

  it('puts a deny the Lambda answers with isAuthenticated: false under 0x86, an authenticated deny-all under 0x87', () => {
    for (const reason of Object.keys(DECISION_REASONS)) {
      if ((ALLOW_DECISION_REASONS as readonly string[]).includes(reason)) continue;
      const cause = refusalCauseOfDecision(reason);
      expect(cause).toBeDefined();
      const row = CONNECT_REFUSALS[cause as keyof typeof CONNECT_REFUSALS];
      const authenticates =
        INTERNAL_FAILURE_REASONS.has(reason as keyof typeof DECISION_REASONS) ||
        ['CLIENT_ID_OUTSIDE_PREFIX', 'CLIENT_ID_NOT_DEVICE'].includes(reason);
      expect([reason, row.connack]).toEqual([reason, authenticates ? 0x87 : 0x86]);
    }
  });

  it("writes decision lines of protocol's AuthorizerDecisionLine shape", () => {
    const entry: DecisionLogEntry = {
      decision: 'DENY',
      reason: 'BAD_PASSWORD',
      mode: 'unsigned',
      principalId: 'denied',
      durationMs: 1,
    };
    const line: AuthorizerDecisionLine = entry;
    expect(line.reason).toBe('BAD_PASSWORD');
  });
});
