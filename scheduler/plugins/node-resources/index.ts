// The resource plugins: NodeResourcesFit (filter + allocation score) and NodeResourcesBalancedAllocation.
export * from './fit.js';
export { balancedAllocation, NAME as BALANCED_ALLOCATION } from './balanced-allocation.js';
