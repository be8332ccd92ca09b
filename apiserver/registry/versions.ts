// The conversions of the built-in kinds served in another version (api/resources OTHER_VERSIONS: autoscaling/v1
// HorizontalPodAutoscalers beside the stored v2). The registry serves such a version with the custom resources'
// ConversionStore (apiserver/apiextensions/conversion.ts) over the stored version's store: objects are converted out on
// every read and watch event and in on every write, as kube-apiserver serves a group's versions from one storage version.
import { errors } from '../../api/errors.js';
import type { ResourceInfo } from '../../api/resources.js';
import { hpaToV1, hpaToV2, type HorizontalPodAutoscaler, type HorizontalPodAutoscalerV1 } from '../../api/index.js';
import type { Converter } from '../apiextensions/conversion.js';
import type { Obj } from './object.js';

type ToVersion = (o: Obj) => Obj;

/** A converter from a pair of pure conversions: `toOther` from the stored version, `toStored` back. */
function pairConverter(stored: string, other: string, toOther: ToVersion, toStored: ToVersion): Converter {
  return async (objects, desired) =>
    objects.map((o) => {
      if (o.apiVersion === desired) return o;
      if (desired === other && o.apiVersion === stored) return toOther(o);
      if (desired === stored && o.apiVersion === other) return toStored(o);
      throw errors.internal(`no conversion of ${String(o.apiVersion)} to ${desired}`);
    });
}

/** The conversions of each kind with another version served, by `group/Kind`. */
const CONVERTERS: Readonly<Record<string, Converter>> = {
  'autoscaling/HorizontalPodAutoscaler': pairConverter(
    'autoscaling/v2',
    'autoscaling/v1',
    (o) => hpaToV1(o as unknown as HorizontalPodAutoscaler) as unknown as Obj,
    (o) => hpaToV2(o as unknown as HorizontalPodAutoscalerV1) as unknown as Obj,
  ),
};

export function converterFor(info: Pick<ResourceInfo, 'group' | 'kind'>): Converter | undefined {
  return CONVERTERS[`${info.group}/${info.kind}`];
}
