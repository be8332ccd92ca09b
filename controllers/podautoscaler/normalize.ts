// From a metric's proposal to the replicas the HPA sets (horizontal.go's normalizeDesiredReplicas and
// normalizeDesiredReplicasWithBehaviors): stabilization windows over recent recommendations, then the min/max bounds
// and the rate limits (the default 2x-or-4 scale-up limit, or the behavior's policies over recent scale events).
// The state per HPA (recommendations, scale events) lives in memory, as kube-controller-manager keeps it.
import { withDefaultScalingRules } from '../../api/defaults.js';
import type { HorizontalPodAutoscalerBehavior, HPAScalingRules } from '../../api/schemas/autoscaling.js';

export interface LimitCondition {
  reason: string;
  message: string;
}

export interface Normalized {
  replicas: number;
  /** The AbleToScale reason and message (stabilized, or ReadyForNewScale). */
  stabilization: LimitCondition;
  /** ScalingLimited: limited is true when the bounds or rates changed the stabilized recommendation. */
  limited: boolean;
  limit: LimitCondition;
}

interface Timestamped {
  value: number;
  at: number;
}
interface ScaleEvent {
  change: number;
  at: number;
  outdated: boolean;
}

const READY: LimitCondition = { reason: 'ReadyForNewScale', message: 'recommended size matches current size' };
const DOWN_STABILIZED: LimitCondition = { reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than current one, applying the highest recent recommendation' };
const UP_STABILIZED: LimitCondition = { reason: 'ScaleUpStabilized', message: 'recent recommendations were lower than current one, applying the lowest recent recommendation' };
const WITHIN: LimitCondition = { reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
const TOO_FEW: LimitCondition = { reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
const TOO_MANY: LimitCondition = { reason: 'TooManyReplicas', message: 'the desired replica count is more than the maximum replica count' };
const UP_LIMIT: LimitCondition = { reason: 'ScaleUpLimit', message: 'the desired replica count is increasing faster than the maximum scale rate' };
const DOWN_LIMIT: LimitCondition = { reason: 'ScaleDownLimit', message: 'the desired replica count is decreasing faster than the maximum scale rate' };

/** Without behavior: at most max(2x, 4) replicas per scale-up (kube's scaleUpLimitFactor and scaleUpLimitMinimum). */
const scaleUpLimit = (current: number): number => Math.max(2 * current, 4);

export interface Bounds {
  key: string;
  current: number;
  proposed: number;
  min: number;
  max: number;
}

export class Normalizer {
  private readonly recommendations = new Map<string, Timestamped[]>();
  private readonly upEvents = new Map<string, ScaleEvent[]>();
  private readonly downEvents = new Map<string, ScaleEvent[]>();

  /** downscaleWindowMs: --horizontal-pod-autoscaler-downscale-stabilization, for HPAs that do not set their own. */
  constructor(private readonly downscaleWindowMs: number) {}

  forget(key: string): void {
    this.recommendations.delete(key);
    this.upEvents.delete(key);
    this.downEvents.delete(key);
  }

  /** kube's normalizeDesiredReplicas: the highest recommendation of the downscale window, then bounds and the 2x-or-4 limit. */
  normalize(b: Bounds, now: number): Normalized {
    const recs = this.recommendations.get(b.key) ?? [];
    let stabilized = b.proposed;
    let reused = false;
    for (const r of recs) {
      if (r.at > now - this.downscaleWindowMs) stabilized = Math.max(stabilized, r.value);
      else if (!reused) {
        r.value = b.proposed;
        r.at = now;
        reused = true;
      }
    }
    if (!reused) recs.push({ value: b.proposed, at: now });
    this.recommendations.set(b.key, recs);
    const upLimit = scaleUpLimit(b.current);
    let replicas = stabilized;
    let limit = WITHIN;
    if (stabilized < b.min) [replicas, limit] = [b.min, TOO_FEW];
    else if (stabilized > Math.min(b.max, upLimit)) [replicas, limit] = b.max > upLimit ? [upLimit, UP_LIMIT] : [b.max, TOO_MANY];
    return { replicas, stabilization: stabilized !== b.proposed ? DOWN_STABILIZED : READY, limited: replicas !== stabilized, limit };
  }

  /** kube's normalizeDesiredReplicasWithBehaviors: each direction's stabilization window, then its policies' rate limits. */
  normalizeWithBehavior(b: Bounds, behavior: HorizontalPodAutoscalerBehavior, now: number): Normalized {
    const up = withDefaultScalingRules(behavior.scaleUp, 'up');
    const down = withDefaultScalingRules(behavior.scaleDown, 'down');
    const upWindow = (up.stabilizationWindowSeconds ?? 0) * 1000;
    const downWindow = down.stabilizationWindowSeconds !== undefined ? down.stabilizationWindowSeconds * 1000 : this.downscaleWindowMs;
    const stabilized = this.stabilize(b, upWindow, downWindow, now);
    const stabilization = stabilized !== b.proposed ? (b.proposed >= b.current ? UP_STABILIZED : DOWN_STABILIZED) : READY;
    const { replicas, limit } = this.rateLimited({ ...b, proposed: stabilized }, up, down, now);
    return { replicas, stabilization, limited: replicas !== stabilized, limit };
  }

  private stabilize(b: Bounds, upWindow: number, downWindow: number, now: number): number {
    const scalingUp = b.proposed >= b.current;
    const window = scalingUp ? upWindow : downWindow;
    const better = scalingUp ? Math.min : Math.max;
    const obsolete = now - Math.max(upWindow, downWindow);
    const recs = this.recommendations.get(b.key) ?? [];
    let recommendation = b.proposed;
    let old: Timestamped | undefined;
    for (const r of recs) {
      if (r.at > now - window) recommendation = better(r.value, recommendation);
      if (r.at < obsolete) old = r;
    }
    if (old) Object.assign(old, { value: b.proposed, at: now });
    else recs.push({ value: b.proposed, at: now });
    this.recommendations.set(b.key, recs);
    return recommendation;
  }

  private rateLimited(b: Bounds, up: HPAScalingRules, down: HPAScalingRules, now: number): { replicas: number; limit: LimitCondition } {
    if (b.proposed > b.current) {
      const limit = Math.max(b.current, this.upLimit(b.current, this.upEvents.get(b.key) ?? [], up, now));
      const [allowed, why] = b.max > limit ? [limit, UP_LIMIT] : [b.max, TOO_MANY];
      if (b.proposed > allowed) return { replicas: allowed, limit: why };
    } else if (b.proposed < b.current) {
      const limit = Math.min(b.current, this.downLimit(b.current, this.downEvents.get(b.key) ?? [], down, now));
      const [allowed, why] = b.min < limit ? [limit, DOWN_LIMIT] : [b.min, TOO_FEW];
      if (b.proposed < allowed) return { replicas: allowed, limit: why };
    }
    return { replicas: b.proposed, limit: WITHIN };
  }

  /** kube's calculateScaleUpLimitWithScalingRules. */
  private upLimit(current: number, events: ScaleEvent[], rules: HPAScalingRules, now: number): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const pick = rules.selectPolicy === 'Min' ? Math.min : Math.max;
    let result = rules.selectPolicy === 'Min' ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
    for (const p of rules.policies ?? []) {
      const start = current - changeInPeriod(events, p.periodSeconds, now);
      result = pick(result, p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100)));
    }
    return result;
  }

  /** kube's calculateScaleDownLimitWithBehaviors. */
  private downLimit(current: number, events: ScaleEvent[], rules: HPAScalingRules, now: number): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const pick = rules.selectPolicy === 'Min' ? Math.max : Math.min;
    let result = rules.selectPolicy === 'Min' ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
    for (const p of rules.policies ?? []) {
      const start = current + changeInPeriod(events, p.periodSeconds, now);
      result = pick(result, p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100)));
    }
    return result;
  }

  /** kube's storeScaleEvent: remembers a rescale for the behavior's rate limits, reusing an outdated slot. */
  recordScale(key: string, behavior: HorizontalPodAutoscalerBehavior | undefined, from: number, to: number, now: number): void {
    if (!behavior || from === to) return;
    const upward = to > from;
    const rules = withDefaultScalingRules(upward ? behavior.scaleUp : behavior.scaleDown, upward ? 'up' : 'down');
    const longest = Math.max(0, ...(rules.policies ?? []).map((p) => p.periodSeconds)) * 1000;
    const store = upward ? this.upEvents : this.downEvents;
    const events = store.get(key) ?? [];
    for (const e of events) if (e.at <= now - longest) e.outdated = true;
    const slot = events.find((e) => e.outdated);
    const event = { change: Math.abs(to - from), at: now, outdated: false };
    if (slot) Object.assign(slot, event);
    else events.push(event);
    store.set(key, events);
  }
}

/** kube's getReplicasChangePerPeriod: replicas added (or removed) by the events of the last periodSeconds. */
function changeInPeriod(events: ScaleEvent[], periodSeconds: number, now: number): number {
  const cutoff = now - periodSeconds * 1000;
  return events.reduce((sum, e) => (e.at > cutoff ? sum + e.change : sum), 0);
}
