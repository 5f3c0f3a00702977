"""The community register, for the committee's admins: members with their roles, household and area; adding one;
importing a register file (CSV, previewed, then all rows or none); sign-in codes and printed sign-in letters."""
