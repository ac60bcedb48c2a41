SELECT typeof(SUM(age)), typeof(SUM(score)), typeof(AVG(age)), typeof(MIN(age)), typeof(MAX(score)) FROM people
