// CertificateSigningRequests (pkg/registry/certificates/certificates/strategy.go): the server records who asked and
// starts the status empty; main-resource updates change only metadata; /status keeps the approval conditions;
// /approval changes only the conditions (approval, denial) and may not take an approval back.
import { errors, type StatusCause } from '../../../api/errors.js';
import type { CertificateSigningRequest, CertificateSigningRequestCondition } from '../../../api/schemas/certificates.js';
import type { ResourceInfo } from '../../../api/resources.js';
import { validateApprovalUpdate } from '../../../api/validation/certificates.js';
import { csrPemProblem } from '../../../lib/x509.js';
import { isObject, rfc3339, type Obj } from '../object.js';
import type { Clock, SubresourceFactory } from '../rest.js';
import { defaultStrategy, type Strategy } from '../strategy.js';

const APPROVAL = ['Approved', 'Denied'];
const asCsr = (o: Obj): CertificateSigningRequest => o as unknown as CertificateSigningRequest;
const conditionsOf = (o: Obj): CertificateSigningRequestCondition[] => asCsr(o).status?.conditions ?? [];

/** spec.request must be one PEM "CERTIFICATE REQUEST" that parses (kube's ParseCSR in validation). */
function validateRequest(obj: Obj): StatusCause[] {
  const request = asCsr(obj).spec?.request;
  if (typeof request !== 'string' || !request) return [];
  const problem = csrPemProblem(Buffer.from(request, 'base64').toString('utf8'));
  return problem ? [{ reason: 'FieldValueInvalid', field: 'spec.request', message: `Invalid value: "<request data>": ${problem}` }] : [];
}

/** kube's populateConditionTimestamps: a condition without times gets now; a changed one a new lastUpdateTime. */
function stampConditions(conditions: CertificateSigningRequestCondition[], old: CertificateSigningRequestCondition[], now: string): CertificateSigningRequestCondition[] {
  return conditions.map((c) => {
    const before = old.find((o) => o.type === c.type);
    const changed = !before || before.status !== c.status || before.reason !== c.reason || before.message !== c.message;
    return {
      ...c,
      lastUpdateTime: c.lastUpdateTime ?? (changed ? now : (before?.lastUpdateTime ?? now)),
      lastTransitionTime: c.lastTransitionTime ?? (before && before.status === c.status ? (before.lastTransitionTime ?? now) : now),
    };
  });
}

/** PUT .../approval: the conditions of the body on the stored object; its resourceVersion is a precondition. */
const approvalStorage: SubresourceFactory = (parent, { clock }) => ({
  // kubectl certificate approve|deny PUTs the request as protobuf.
  bodies: 'any',
  get: (namespace, name) => parent.get(namespace, name),
  async update(namespace, name, change, opts) {
    const out = await parent.update(
      namespace,
      name,
      (cur) => {
        if (!cur) throw errors.notFound({ group: parent.info.group, resource: parent.info.resource, name });
        return withApproval(cur, change(cur), clock);
      },
      { dryRun: opts.dryRun, fieldManager: opts.fieldManager, subresource: 'binding' },
    );
    return out.obj;
  },
});

function withApproval(cur: Obj, body: unknown, clock: Clock): Obj {
  if (!isObject(body) || !isObject(body.metadata)) throw errors.badRequest('the body is not a CertificateSigningRequest');
  const status = isObject(body.status) ? body.status : {};
  const conditions = Array.isArray(status.conditions) ? (status.conditions as CertificateSigningRequestCondition[]) : [];
  const next: Obj = {
    ...cur,
    metadata: { ...cur.metadata, resourceVersion: (body.metadata.resourceVersion as string | undefined) || cur.metadata.resourceVersion },
    status: { ...(isObject(cur.status) ? cur.status : {}), conditions: stampConditions(conditions, conditionsOf(cur), rfc3339(clock.now())) },
  };
  const causes = validateApprovalUpdate(asCsr(next), asCsr(cur));
  if (causes.length) throw errors.invalid('CertificateSigningRequest', 'certificates.k8s.io', cur.metadata.name ?? '', causes);
  return next;
}

export function certificateSigningRequestStrategy(info: ResourceInfo): Strategy {
  return defaultStrategy(info, {
    tracksGeneration: false,
    prepareForCreate(obj, user) {
      const spec = isObject(obj.spec) ? obj.spec : {};
      // Who asked is the server's to say; a client's values are dropped (kube: no pre-approved or forged requests).
      delete spec.username;
      delete spec.uid;
      delete spec.groups;
      delete spec.extra;
      if (user) {
        spec.username = user.name;
        if (user.uid) spec.uid = user.uid;
        spec.groups = [...user.groups];
        if (user.extra && Object.keys(user.extra).length) spec.extra = user.extra;
      }
      obj.spec = spec;
      obj.status = {};
    },
    prepareForUpdate(obj, old) {
      obj.spec = old.spec;
      if (old.status === undefined) delete obj.status;
      else obj.status = old.status;
    },
    prepareForStatusUpdate(obj, old) {
      // Approval is /approval's: the stored Approved and Denied conditions stay as they are.
      const kept = conditionsOf(old).filter((c) => APPROVAL.includes(c.type));
      const rest = conditionsOf(obj).filter((c) => !APPROVAL.includes(c.type));
      const status = isObject(obj.status) ? obj.status : {};
      obj.status = { ...status, conditions: [...kept, ...rest] };
      if (!kept.length && !rest.length) delete (obj.status as { conditions?: unknown }).conditions;
    },
    validate: validateRequest,
    subresources: { approval: approvalStorage },
  });
}
