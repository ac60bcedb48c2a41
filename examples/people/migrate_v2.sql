-- people version 1 -> 2: split the name at its first space.
MIGRATE people FROM 1 TO 2
  SET firstName = CASE WHEN instr(name, ' ') > 0 THEN substr(name, 1, instr(name, ' ') - 1) ELSE name END,
      lastName  = CASE WHEN instr(name, ' ') > 0 THEN substr(name, instr(name, ' ') + 1) END;
