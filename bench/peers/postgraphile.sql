-- What PostGraphile gets beside werkbrug's own tables: one search function, in a schema of its
-- own (`peers`), so that `candidatesWith(skill, district, first)` filters as werkbrug's
-- `candidates(filter: { skills, districts })` does — the same predicates on the same table
-- (`district = …` and the skill as an element of the JSON list, tested on its text as werkbrug
-- does), in person order. Everything else PostGraphile derives itself from the `public` schema
-- and its foreign keys (candidate_profile → person → placement → organisation). No row-level
-- security, no consent filter, no roles: PostGraphile runs without any privacy policy.
DROP SCHEMA IF EXISTS peers CASCADE;
CREATE SCHEMA peers;
CREATE FUNCTION peers.candidates_with(skill text, district text)
RETURNS SETOF public.candidate_profile
LANGUAGE sql STABLE AS $$
  SELECT c.*
  FROM public.candidate_profile c
  WHERE c.district = candidates_with.district
    AND CAST(c.skills AS text) LIKE '%"' || lower(candidates_with.skill) || '"%'
  ORDER BY c.person_id
$$;
