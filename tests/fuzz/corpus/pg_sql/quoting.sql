SELECT '?' || ?, E'it\'s ?', $$ ? $$, $q$?$q$, "a?b" FROM t -- ?
/* a ? /* nested ? */ ? */ WHERE x = ?2::text