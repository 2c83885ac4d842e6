// pages/failures.js - the Failures page: #/failures (the open failures with filters; retry one,
// a selection or all) and #/failures/ID (one failure: the error and its cause in words,
// attempts, next retry, the record's input, the mapping that failed, and the draft of a mapping
// test case made from it, edited and saved in place). The views live in pages/failures/.
import { renderList } from './failures/list.js';
import { renderDetail } from './failures/detail.js';

export default {
  id: 'failures',
  title: 'Failures',
  render(root, params, app) {
    return params[0] ? renderDetail(root, params[0], app) : renderList(root, app);
  },
};
