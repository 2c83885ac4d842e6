// pages/mappings.js - the Mappings page (placeholder of the scaffold; the page's owner replaces it).
import { h, mount } from '../ui.js';

export default {
  id: 'mappings',
  title: 'Mappings',
  render(root) {
    mount(root, h('h1', {}, 'Mappings'));
  },
};
